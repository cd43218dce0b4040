"""`identity seed-demo --portal`: the demo portals' URIs follow their gateways' URLs."""

from __future__ import annotations

import json
from pathlib import Path

import anyio.to_thread
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from identity import cli
from identity.models import Client


async def run(*argv: str) -> int:
    code: int = await anyio.to_thread.run_sync(cli.main, list(argv))
    return code


@pytest.fixture(autouse=True)
def database(identity_db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", identity_db_url)


async def portal(sessions: async_sessionmaker[AsyncSession], client_id: str) -> Client:
    async with sessions() as session:
        client = await session.get(Client, client_id)
    assert client is not None
    return client


async def test_both_portals_are_registered_with_their_logout_uris(
    tmp_path: Path, sessions: async_sessionmaker[AsyncSession]
) -> None:
    assert await run("seed-demo", "--data-dir", str(tmp_path)) == 0
    cascade, summit = (
        await portal(sessions, "cascade-portal"),
        await portal(sessions, "summit-portal"),
    )
    assert "http://127.0.0.1:8080/portal/callback" in cascade.redirect_uris
    assert "http://127.0.0.1:8080/portal/signed-out" in cascade.post_logout_redirect_uris
    assert cascade.backchannel_logout_uri == "http://127.0.0.1:8080/portal/backchannel-logout"
    assert summit.redirect_uris[0] == "http://127.0.0.1:8081/portal/callback"
    assert summit.backchannel_logout_uri == "http://127.0.0.1:8081/portal/backchannel-logout"
    secrets = json.loads((tmp_path / "demo-credentials.json").read_text())
    assert secrets["cascade-portal"] and secrets["summit-portal"]
    assert secrets["cascade-portal"] != secrets["summit-portal"]


async def test_a_second_run_moves_the_uris_to_the_given_urls_and_keeps_the_secrets(
    tmp_path: Path, sessions: async_sessionmaker[AsyncSession]
) -> None:
    assert await run("seed-demo", "--data-dir", str(tmp_path)) == 0
    first = json.loads((tmp_path / "demo-credentials.json").read_text())
    moved = "--portal=summit-portal=http://127.0.0.1:41999"
    assert await run("seed-demo", "--data-dir", str(tmp_path), moved) == 0
    summit = await portal(sessions, "summit-portal")
    assert summit.redirect_uris[0] == "http://127.0.0.1:41999/portal/callback"
    assert "http://localhost:41999/portal/callback" in summit.redirect_uris
    assert summit.backchannel_logout_uri == "http://127.0.0.1:41999/portal/backchannel-logout"
    assert (
        (await portal(sessions, "cascade-portal"))
        .redirect_uris[0]
        .startswith("http://127.0.0.1:8080/")
    )
    assert json.loads((tmp_path / "demo-credentials.json").read_text()) == first


async def test_a_demo_made_before_the_second_plan_gets_its_portal(
    tmp_path: Path, sessions: async_sessionmaker[AsyncSession]
) -> None:
    assert await run("seed-demo", "--data-dir", str(tmp_path)) == 0
    async with sessions() as session:
        summit = await session.get(Client, "summit-portal")
        assert summit is not None
        await session.delete(summit)
        await session.commit()
    stored = json.loads((tmp_path / "demo-credentials.json").read_text())
    stored.pop("summit-portal")
    (tmp_path / "demo-credentials.json").write_text(json.dumps(stored))
    assert await run("seed-demo", "--data-dir", str(tmp_path)) == 0
    assert (await portal(sessions, "summit-portal")).redirect_uris
    assert json.loads((tmp_path / "demo-credentials.json").read_text())["summit-portal"]


async def test_an_unknown_portal_is_refused(tmp_path: Path) -> None:
    assert await run("seed-demo", "--data-dir", str(tmp_path), "--portal=nope=http://x") != 0
