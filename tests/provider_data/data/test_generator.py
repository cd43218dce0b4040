"""The demo generator: a believable plan from a seed, the same every time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest
from sqlalchemy import func, select

from provider_data import cli
from provider_data.documents import npi
from provider_data.platform.db import create_engine, session_factory
from provider_data.platform.models import Accumulator, Claim, ClaimLine, Member, ProviderRecord
from tests.support.databases import fresh_database

SIZES = ["--members", "60", "--providers", "12", "--claims", "150", "--seed", "7"]


async def snapshot(url: str) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            claims = (
                await session.execute(
                    select(
                        Claim.claim_number,
                        Claim.billing_tin,
                        Claim.service_date,
                        Claim.status,
                        Claim.billed_amount,
                        Claim.paid_amount,
                        Claim.patient_responsibility,
                    ).order_by(Claim.claim_number)
                )
            ).all()
            members = (
                await session.execute(
                    select(Member.member_id, Member.relation, Member.date_of_birth).order_by(
                        Member.member_id
                    )
                )
            ).all()
            accumulators = (
                await session.execute(
                    select(Accumulator.holder, Accumulator.kind, Accumulator.met).order_by(
                        Accumulator.holder,
                        Accumulator.kind,
                        Accumulator.network,
                        Accumulator.level,
                        Accumulator.plan_year,
                    )
                )
            ).all()
            npis = list(await session.scalars(select(ProviderRecord.npi)))
            lines = await session.scalar(select(func.count()).select_from(ClaimLine))
    finally:
        await engine.dispose()
    return {
        "claims": claims,
        "members": members,
        "accumulators": accumulators,
        "npis": npis,
        "lines": lines,
    }


async def seeded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> dict[str, Any]:
    async with fresh_database(name, tmp_path) as url:
        monkeypatch.setenv("DATABASE_URL", url)
        assert await anyio.to_thread.run_sync(cli.main, ["migrate"]) == 0
        assert await anyio.to_thread.run_sync(cli.main, ["seed-demo", *SIZES]) == 0
        assert await anyio.to_thread.run_sync(cli.main, ["seed-demo", *SIZES]) == 0
        return await snapshot(url)


async def test_same_seed_same_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    first = await seeded(tmp_path, monkeypatch, "gen1")
    second = await seeded(tmp_path, monkeypatch, "gen2")
    assert first == second
    out = capsys.readouterr().out
    assert "generated plan (seed 7: 60 members, 12 providers, 150 claims) created" in out
    assert "already present" in out
    generated = [m for m in first["members"] if m[0].startswith("G07")]
    assert len(generated) == 60
    assert {m[1] for m in generated} >= {"subscriber", "spouse", "child"}
    assert all(npi.is_valid(n) for n in first["npis"]) and len(first["npis"]) == 4 + 12
    made = [c for c in first["claims"] if c[0].startswith("G07-")]
    assert 100 <= len(made) <= 150
    assert {c[3] for c in made} >= {"paid", "denied"}
    assert all(c[5] + c[6] <= c[4] for c in made), "paid + patient share never exceed billed"
    assert first["lines"] > len(first["claims"])
