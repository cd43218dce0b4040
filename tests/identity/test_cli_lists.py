"""`identity list-orgs | list-people | list-clients` (tables, --search, --json) on the
demo data, and what the command line says with no database to work on."""

from __future__ import annotations

import json
import os
from pathlib import Path

import anyio.to_thread
import pytest

from identity import cli


async def run(*argv: str) -> int:
    code: int = await anyio.to_thread.run_sync(cli.main, list(argv))
    return code


@pytest.fixture
async def demo(identity_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", identity_db_url)
    assert await run("seed-demo", "--data-dir", str(tmp_path)) == 0


async def test_lists_of_organizations_people_and_clients(
    demo: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """One seeded database for the three read-only lists (seeding is the slow part)."""
    capsys.readouterr()
    await _organizations_as_a_table_and_searched_by_tax_id(capsys)
    await _people_searched_by_name_or_address_as_json(capsys)
    await _clients_listed_with_how_they_sign_in(capsys)


async def _organizations_as_a_table_and_searched_by_tax_id(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert await run("list-orgs") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ID", "NAME", "STATUS", "PARENT", "TAX_IDS", "CREATED"]
    assert set(lines[1]) <= {"-", " "}
    assert any("Evergreen" in line and "98-7654321" in line for line in lines[2:])
    assert await run("list-orgs", "--search", "987654321") == 0
    found = capsys.readouterr().out.splitlines()[2:]
    assert found and all("98-7654321" in line for line in found)


async def _people_searched_by_name_or_address_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert await run("list-people", "--search", "SAM.BILLER", "--json") == 0
    (person,) = json.loads(capsys.readouterr().out)
    assert person["username"] == "sam.biller"
    assert set(person) == {"id", "username", "name", "email", "status", "organizations"}
    assert "Evergreen" in person["organizations"]
    assert await run("list-people", "--search", "nobody-at-all") == 0
    assert capsys.readouterr().out.strip() == "nothing found"
    assert await run("list-people", "--search", "nobody-at-all", "--json") == 0
    assert json.loads(capsys.readouterr().out) == []


async def _clients_listed_with_how_they_sign_in(capsys: pytest.CaptureFixture[str]) -> None:
    assert await run("list-clients", "--json") == 0
    clients = {c["client_id"]: c for c in json.loads(capsys.readouterr().out)}
    assert {"acme-curl", "cascade-portal", "tinpass-cli"} <= set(clients)
    assert clients["acme-curl"]["authentication"] == "client_secret_basic"
    assert clients["acme-curl"]["grants"] == "client_credentials"
    assert "secret" not in json.dumps(clients).replace("client_secret", "")
    assert await run("list-clients", "--search", "portal") == 0
    table = capsys.readouterr().out
    assert "cascade-portal" in table and "acme-curl" not in table


async def test_without_a_database_it_says_what_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # outside the repository: no data/identity.db here
    for command in (["list-orgs"], ["migrate"], ["create-org", "Northwind"]):
        assert await run(*command) == 2
        said = capsys.readouterr()
        assert "DATABASE_URL is not set" in said.err and "Traceback" not in said.err
        assert "DATABASE_URL=postgresql+asyncpg://" in said.err
    assert os.listdir(tmp_path) == [], "no empty database was created"
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/missing.db")
    assert await run("list-people") == 2
    assert "names the SQLite file" in capsys.readouterr().err
    assert await run("migrate") == 0  # named on purpose: migrate creates it
    assert (tmp_path / "missing.db").exists()
