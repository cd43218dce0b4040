"""The plan's access trail: chained through libs/policy, verified, tampering named."""

from __future__ import annotations

from pathlib import Path

import anyio
import anyio.to_thread
import httpx
import pytest
from sqlalchemy import select, update

from policy.checkpoints import Vault
from provider_data import cli
from provider_data.platform import audit
from provider_data.platform.models import AccessEvent
from tests.provider_data.conftest import Plan
from tests.support.databases import db_kind


async def events_of(plan: Plan, subject: str) -> list[AccessEvent]:
    """The subject's events, sealed first (the sealer chains them behind the writers)."""
    async with plan.sessions() as session:
        await audit.seal(session)
        query = select(AccessEvent).where(AccessEvent.subject == subject).order_by(AccessEvent.seq)
        return list(await session.scalars(query))


async def test_accesses_form_a_verifiable_chain_and_edits_are_named(
    plan: Plan, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    headers = plan.auth(sub="chain-check", tax_ids=["123456789"])
    for _ in range(3):
        await plan.claims.get("/claims/v1/claims?member_id=M1000101", headers=headers)
    rows = await events_of(plan, "chain-check")
    async with plan.sessions() as session:
        assert (await audit.verify(session)).ok
    assert len(rows) == 3 and all(r.hash is not None and len(r.hash) == 64 for r in rows)
    async with plan.sessions() as session:
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
    assert "audit trail intact" in capsys.readouterr().out


async def test_concurrent_accesses_never_fork_the_chain(plan: Plan) -> None:
    headers = plan.auth(sub="crowd", tax_ids=["123456789"])
    answers: list[httpx.Response] = []

    async def ask(member_id: str) -> None:
        answers.append(
            await plan.claims.get(
                "/claims/v1/claims", params={"member_id": member_id}, headers=headers
            )
        )

    async with anyio.create_task_group() as group:
        for index in range(12):
            group.start_soon(ask, "M1000101" if index % 2 else "M1000201")
    assert [a.status_code for a in answers] == [200] * 12
    rows = await events_of(plan, "crowd")
    assert len(rows) == 12
    async with plan.sessions() as session:
        assert (await audit.verify(session)).ok


async def test_a_claim_list_records_each_member_and_tin_it_disclosed(plan: Plan) -> None:
    await plan.claims.get(
        "/claims/v1/claims",
        params={"limit": 100},
        headers=plan.auth(sub="lister", tax_ids=["123456789", "987654321"]),
    )
    await plan.claims.get(
        "/claims/v1/claims",
        params={"member_id": "m9999999"},
        headers=plan.auth(sub="lister", tax_ids=["123456789"]),
    )
    rows = await events_of(plan, "lister")
    assert [(r.action, r.allowed, r.member_id, r.tax_id) for r in rows] == [
        ("claims.read", True, "M1000101", "123456789"),
        ("claims.read", True, "M1000101", "987654321"),
        ("claims.read", True, "M1000201", "123456789"),
        ("claims.read", True, "M1000201", "987654321"),
        ("claims.read", True, "M9999999", "123456789"),
    ]
    assert len({r.request_id for r in rows}) == 2 and all(r.request_id for r in rows)


async def test_the_request_id_is_the_events(plan: Plan) -> None:
    response = await plan.claims.get(
        "/claims/v1/claims",
        params={"member_id": "M1000101"},
        headers={**plan.auth(sub="traced"), "X-Request-ID": "req-7f3a"},
    )
    assert response.headers["x-request-id"] == "req-7f3a"
    assert [r.request_id for r in await events_of(plan, "traced")] == ["req-7f3a"]


async def test_the_apps_seal_behind_the_requests_and_report_the_lag(plan: Plan) -> None:
    """No one calls `seal`: the apps' sealer chains the events within the lag target."""
    await plan.claims.get(
        "/claims/v1/claims",
        params={"member_id": "M1000101"},
        headers=plan.auth(sub="unsealed-then-sealed"),
    )
    with anyio.fail_after(10):
        while True:
            state = (await plan.eligibility.get("/status/audit")).json()
            if state["unsealed"] == 0:
                break
            assert state["lag_seconds"] < 5
            await anyio.sleep(0.05)
    assert state["service"] == "provider-data" and state["sealed_seq"] >= 1
    assert state["lag_target_seconds"] == 1.0 and state["lag_seconds"] == 0
    claims_state = (await plan.claims.get("/status/audit")).json()
    sealers = [state["sealer"], claims_state["sealer"]]
    if db_kind() == "postgresql":
        assert sorted(s["leader"] for s in sealers) == [False, True], "one leader"
    async with plan.sessions() as session:
        rows = list(
            await session.scalars(
                select(AccessEvent).where(AccessEvent.subject == "unsealed-then-sealed")
            )
        )
    assert [len(r.hash or "") for r in rows] == [64]


async def test_the_cli_seals_reports_and_verifies_with_checkpoints(
    plan: Plan,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await plan.claims.get("/claims/v1/claims", headers=plan.auth(sub="cli-sealed"))
    monkeypatch.setenv("DATABASE_URL", plan.database_url)
    monkeypatch.setenv("PROVIDER_DATA_AUDIT_SIGNING_KEY_FILE", str(tmp_path / "key.pem"))
    monkeypatch.setenv("PROVIDER_DATA_AUDIT_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    Vault("provider-data", tmp_path / "key.pem", tmp_path, create_key=True).private_key()
    assert await anyio.to_thread.run_sync(cli.main, ["audit", "seal"]) == 0
    assert "the chain ends at event" in capsys.readouterr().out
    assert len(list((tmp_path / "checkpoints").glob("provider-data-*.json"))) == 1
    assert await anyio.to_thread.run_sync(cli.main, ["audit", "status"]) == 0
    assert "provider-data audit trail:" in capsys.readouterr().out
    assert await anyio.to_thread.run_sync(cli.main, ["audit", "verify"]) == 0
    assert "1 signed checkpoints matched" in capsys.readouterr().out
    (checkpoint,) = (tmp_path / "checkpoints").glob("provider-data-*.json")
    checkpoint.write_text(checkpoint.read_text().replace('"hash": "', '"hash": "0'))
    assert await anyio.to_thread.run_sync(cli.main, ["audit", "verify"]) == 1
    assert "audit trail BROKEN" in capsys.readouterr().err


async def test_sealing_from_the_cli_without_the_configured_key_says_so(
    plan: Plan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", plan.database_url)
    monkeypatch.setenv("PROVIDER_DATA_AUDIT_SIGNING_KEY_FILE", str(tmp_path / "absent.pem"))
    monkeypatch.setenv("PROVIDER_DATA_AUDIT_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    await plan.claims.get("/claims/v1/claims", headers=plan.auth(sub="keyless"))
    assert await anyio.to_thread.run_sync(cli.main, ["audit", "seal"]) == 1
    assert "no checkpoint was signed: no audit signing key at" in capsys.readouterr().err
    assert not (tmp_path / "checkpoints").exists()
