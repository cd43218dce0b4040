"""The plan's access trail: chained through libs/policy, verified, tampering named."""

from __future__ import annotations

from pathlib import Path

import anyio.to_thread
import pytest
from sqlalchemy import select, update

from provider_data import audit, cli
from provider_data.models import AccessEvent
from tests.provider_data.conftest import Plan


async def test_accesses_form_a_verifiable_chain_and_edits_are_named(
    plan: Plan, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    headers = plan.auth(sub="chain-check", tax_ids=["123456789"])
    for _ in range(3):
        await plan.claims.get("/claims/v1/claims", headers=headers)
    async with plan.sessions() as session:
        assert (await audit.verify(session)).ok
        rows = list(
            await session.scalars(select(AccessEvent).where(AccessEvent.subject == "chain-check"))
        )
        assert len(rows) == 3 and all(len(r.hash) == 64 for r in rows)
        await session.execute(
            update(AccessEvent).where(AccessEvent.id == rows[1].id).values(allowed=False)
        )
        await session.commit()
    async with plan.sessions() as session:
        result = await audit.verify(session)
    assert not result.ok and result.first_bad_seq == rows[1].seq and "altered" in result.describe()
    monkeypatch.setenv("DATABASE_URL", plan.database_url)
    assert await anyio.to_thread.run_sync(cli.main, ["audit", "verify"]) == 1
    assert f"BROKEN at event {rows[1].seq}" in capsys.readouterr().err
    async with plan.sessions() as session:
        await session.execute(
            update(AccessEvent).where(AccessEvent.id == rows[1].id).values(allowed=True)
        )
        await session.commit()
    assert await anyio.to_thread.run_sync(cli.main, ["audit", "verify"]) == 0
