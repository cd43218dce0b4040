"""NPI check digits, the demo seed's idempotence and the command line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import anyio.to_thread
import pytest
from sqlalchemy import func, select

from provider_data import cli
from provider_data.documents import npi
from provider_data.platform.db import create_engine, session_factory
from provider_data.platform.models import Claim, ProviderRecord
from tests.support.databases import fresh_database
from tests.support.digits import arabic_indic, full_width


def test_npi_check_digit() -> None:
    assert npi.is_valid("1234567893")
    assert not npi.is_valid("1234567890")
    assert not npi.is_valid("12345")
    assert npi.make("123456789") == "1234567893"
    with pytest.raises(ValueError):
        npi.check_digit("12345")


async def test_cli_migrates_and_seeds_idempotently(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async with fresh_database("plancli", tmp_path) as url:
        monkeypatch.setenv("DATABASE_URL", url)
        assert await anyio.to_thread.run_sync(cli.main, ["migrate"]) == 0
        small = ["seed-demo", "--members", "0"]
        assert await anyio.to_thread.run_sync(cli.main, small) == 0
        assert await anyio.to_thread.run_sync(cli.main, small) == 0
        output = capsys.readouterr().out
        assert "demo plan data created" in output and "already present" in output
        assert "generated" not in output
        engine = create_engine(url)
        async with session_factory(engine)() as session:
            providers = list(await session.scalars(select(ProviderRecord)))
            claims = await session.scalar(select(func.count()).select_from(Claim))
        await engine.dispose()
    assert {p.tin for p in providers} == {"123456789", "987654321", "444444444", "222222222"}
    assert all(npi.is_valid(p.npi) for p in providers)
    assert claims == 24


def test_help_names_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--help"])
    assert exit_.value.code == 0
    usage = capsys.readouterr().out
    assert all(command in usage for command in ("migrate", "seed-demo", "audit"))


async def test_seed_with_some_provider_tins_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with fresh_database("plantins", tmp_path) as url:
        monkeypatch.setenv("DATABASE_URL", url)
        assert await anyio.to_thread.run_sync(cli.main, ["migrate"]) == 0
        assert (
            await anyio.to_thread.run_sync(
                cli.main, ["seed-demo", "--provider-tins=98-7654321", "--members=0"]
            )
            == 0
        )
        engine = create_engine(url)
        async with session_factory(engine)() as session:
            tins = set(await session.scalars(select(ProviderRecord.tin)))
            billed = set(await session.scalars(select(Claim.billing_tin)))
        await engine.dispose()
    assert tins == billed == {"987654321"}


def test_seed_refuses_an_unknown_tin(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["seed-demo", "--provider-tins=111111111"])
    assert "no demo provider record has TIN 111111111" in capsys.readouterr().err


@pytest.mark.parametrize("look_alike", [full_width, arabic_indic])
def test_npis_and_tins_are_ascii_digits_only(
    look_alike: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert look_alike("1234567893").isdigit(), "the look-alike passes str.isdigit()"
    assert not npi.is_valid(look_alike("1234567893"))
    with pytest.raises(ValueError):
        npi.check_digit(look_alike("123456789"))
    with pytest.raises(SystemExit):
        cli.main(["seed-demo", f"--provider-tins={look_alike('98-7654321')}"])
    assert "a Tax ID is nine digits 0-9" in capsys.readouterr().err
