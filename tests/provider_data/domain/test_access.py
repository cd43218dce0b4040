"""Where an access is audited: a request that changed nothing (an eligibility answer,
a claims search or read, a denial) has its event written by the group-commit writer,
committed before the answer is sent; a failed match, which counts, keeps its event in
its own transaction with the counters; an event that cannot be written withholds
the answer (503)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import anyio.to_thread
import httpx
import pytest
from sqlalchemy import func, select, text

from provider_data import cli
from provider_data.platform import audit
from provider_data.platform.models import AccessEvent, FailedMatchCounter
from tests.provider_data.conftest import Plan, add_member

ACTIVE = {"member_id": "M1000101", "date_of_birth": "1985-04-12"}
INQUIRIES = "/eligibility/v1/inquiries"


async def group_commit(client: httpx.AsyncClient) -> dict[str, Any]:
    state: dict[str, Any] = (await client.get("/status/audit")).json()["group_commit"]
    return state


async def events_with(plan: Plan, request_id: str) -> list[AccessEvent]:
    async with plan.sessions() as session:
        query = select(AccessEvent).where(AccessEvent.request_id == request_id)
        return list(await session.scalars(query))


async def test_concurrent_answers_share_commits_and_each_is_audited_before_it_is_sent(
    plan: Plan,
) -> None:
    before = await group_commit(plan.eligibility)
    durable: list[int] = []

    async def inquire(n: int) -> None:
        response = await plan.eligibility.post(
            INQUIRIES,
            json=ACTIVE,
            headers={**plan.auth(sub="grouped"), "X-Request-ID": f"grouped-{n}"},
        )
        assert response.json()["status"] == "active", response.text
        durable.append(len(await events_with(plan, f"grouped-{n}")))

    await asyncio.gather(*(inquire(n) for n in range(30)))
    after = await group_commit(plan.eligibility)
    assert durable == [1] * 30
    assert after["events"] - before["events"] == 30
    assert after["flushes"] - before["flushes"] < 30, (before, after)


async def test_denials_and_claim_reads_are_group_committed(plan: Plan) -> None:
    eligibility, claims = await group_commit(plan.eligibility), await group_commit(plan.claims)
    denied = await plan.eligibility.post(
        INQUIRIES, json=ACTIVE, headers={**plan.auth(tax_ids=["555000111"]), "X-Request-ID": "d1"}
    )
    search = await plan.claims.get(
        "/claims/v1/claims",
        params={"member_id": "M1000101"},
        headers={**plan.auth(sub="reader"), "X-Request-ID": "s1"},
    )
    foreign = await plan.claims.get(
        "/claims/v1/claims",
        params={"tin": "555000111"},
        headers={**plan.auth(sub="reader"), "X-Request-ID": "s2"},
    )
    assert (denied.status_code, search.status_code, foreign.status_code) == (403, 200, 403)
    assert (await group_commit(plan.eligibility))["events"] == eligibility["events"] + 1
    assert (await group_commit(plan.claims))["events"] == claims["events"] + 2
    for request_id, allowed in (("d1", False), ("s1", True), ("s2", False)):
        assert [e.allowed for e in await events_with(plan, request_id)] == [allowed]


async def test_a_failed_match_keeps_its_event_with_its_counters(plan: Plan) -> None:
    await add_member(plan, "M3000101")
    before = await group_commit(plan.eligibility)
    response = await plan.eligibility.post(
        INQUIRIES,
        json={"member_id": "M3000101", "date_of_birth": "1990-01-02"},
        headers={**plan.auth(sub="guesser"), "X-Request-ID": "miss-1"},
    )
    assert response.json()["status"] == "not_found"
    assert (await group_commit(plan.eligibility))["events"] == before["events"]
    (event,) = await events_with(plan, "miss-1")
    assert event.member_id == "M3000101"
    async with plan.sessions() as session:
        counter = await session.get(FailedMatchCounter, ("member", "M3000101"))
    assert counter is not None and counter.failures == 1


async def rename(plan: Plan, old: str, new: str) -> None:
    async with plan.sessions() as session:
        await session.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))
        await session.commit()


async def test_an_answer_whose_event_cannot_be_written_is_not_sent(plan: Plan) -> None:
    headers = plan.auth(sub="outage")
    away = f"access_events_away_{uuid.uuid4().hex[:6]}"
    await rename(plan, "access_events", away)  # the database refuses the insert
    try:
        refused = await plan.eligibility.post(
            INQUIRIES, json=ACTIVE, headers={**headers, "X-Request-ID": "outage-1"}
        )
    finally:
        await rename(plan, away, "access_events")
    assert refused.status_code == 503, refused.text
    assert refused.json()["type"].endswith("/service-unavailable")
    assert refused.headers["retry-after"] == "5"
    assert "M1000101" not in refused.text and "member" not in refused.json()
    again = await plan.eligibility.post(
        INQUIRIES, json=ACTIVE, headers={**headers, "X-Request-ID": "outage-2"}
    )
    assert again.json()["status"] == "active"  # the next flush works
    assert await events_with(plan, "outage-1") == []
    assert len(await events_with(plan, "outage-2")) == 1
    assert (await group_commit(plan.eligibility))["failed_flushes"] >= 1


async def test_group_committed_events_are_chained_and_verify(
    plan: Plan, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    await asyncio.gather(
        *(plan.eligibility.post(INQUIRIES, json=ACTIVE, headers=plan.auth()) for _ in range(10))
    )
    async with plan.sessions() as session:
        await audit.seal(session)
        result = await audit.verify(session)
        total = await session.scalar(select(func.count()).select_from(AccessEvent))
    assert result.ok and result.unsealed == 0 and result.checked == total
    monkeypatch.setenv("DATABASE_URL", plan.database_url)
    assert await anyio.to_thread.run_sync(cli.main, ["audit", "verify"]) == 0
    assert "audit trail intact" in capsys.readouterr().out
