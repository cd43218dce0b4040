"""Date-of-birth guessing: failed matches counted per member and per client, then 429.

Defaults: 5 failures per member (whoever asks) and 25 per client within 15 minutes.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from policy import TokenVerifier
from provider_data.api import eligibility
from provider_data.platform import audit
from provider_data.platform.models import AccessEvent, FailedMatchCounter
from tests.provider_data.conftest import Plan, add_member, biller, claim_body, plan_settings, serve
from tests.support.tokens import AUDIENCE, ISSUER, JWKS_URI

BORN = date(1990, 1, 1)  # add_member's date of birth


def guess(member_id: str, days_off: int) -> dict[str, Any]:
    return {"member_id": member_id, "date_of_birth": (BORN + timedelta(days=days_off)).isoformat()}


async def ask(plan: Plan, body: dict[str, Any], client: str) -> httpx.Response:
    return await plan.eligibility.post(
        "/eligibility/v1/inquiries", json=body, headers=plan.auth(client_id=client, sub=client)
    )


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    body = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert body["type"].endswith("/too-many-failed-matches")
    assert body["reason"] == "too_many_failed_matches"
    wait = int(response.headers["Retry-After"])
    assert 0 < wait <= 900 and body["retry_after"] == wait
    assert "date of birth" in body["detail"] and f"retry after {wait} s" in body["detail"]
    assert "member" not in body and "Test" not in response.text


async def test_a_batch_of_100_guesses_is_refused_before_it_finds_the_date(plan: Plan) -> None:
    await add_member(plan, "M2000101")
    guesses = [guess("M2000101", day) for day in range(-40, 60)]  # the right one is 41st
    response = await plan.eligibility.post(
        "/eligibility/v1/inquiries/batch",
        json={"inquiries": guesses},
        headers=plan.auth(client_id="batch-guesser", sub="batch-guesser"),
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    answered = [r for r in results if r["outcome"] == "answered"]
    assert [r["answer"]["status"] for r in answered] == ["not_found"] * 5
    assert all(r["answer"]["member"] is None for r in answered)
    refused = results[5:]
    assert len(refused) == 95 and all(r["problem"]["status"] == 429 for r in refused)
    assert results[40]["problem"]["reason"] == "too_many_failed_matches"
    assert "Test" not in response.text, "no name of the member in any entry"
    # Another client with the right date is refused too, until the window passes.
    assert_refused(await ask(plan, guess("M2000101", 0), "another-client"))


async def test_wrong_birth_dates_lock_the_member_for_every_client(plan: Plan) -> None:
    await add_member(plan, "M2000201")
    for n in range(1, 6):
        answer = await ask(plan, guess("M2000201", n), f"office-{n}")
        assert answer.status_code == 200 and answer.json()["reason"] == "date_of_birth_mismatch"
    assert_refused(await ask(plan, guess("M2000201", 6), "office-6"))
    assert_refused(await ask(plan, guess("M2000201", 0), "office-7"))  # right, still refused
    other = await ask(plan, {"member_id": "M1000101", "date_of_birth": "1985-04-12"}, "office-7")
    assert other.json()["status"] == "active", "other members are not locked"
    async with plan.sessions() as session:
        await audit.seal(session)  # the chain orders them (the apps' sealer may lag)
        events = list(
            await session.scalars(
                select(AccessEvent)
                .where(AccessEvent.member_id == "M2000201")
                .order_by(AccessEvent.seq)
            )
        )
        assert [e.reason for e in events[-2:]] == ["too_many_failed_matches"] * 2
        assert not any(e.allowed for e in events[-2:])
        # The window ends: the right date of birth is answered again.
        await session.execute(
            update(FailedMatchCounter)
            .where(FailedMatchCounter.key == "M2000201")
            .values(window_started_at=datetime.now(UTC) - timedelta(seconds=901))
        )
        await session.commit()
    after = await ask(plan, guess("M2000201", 0), "office-7")
    assert after.status_code == 200 and after.json()["status"] == "active", after.text


async def test_failed_matches_across_members_lock_the_client(plan: Plan) -> None:
    await add_member(plan, "M2000301")
    for n in range(25):
        answer = await ask(
            plan, {"member_id": f"X{n:04d}01", "date_of_birth": "1990-01-01"}, "roamer"
        )
        assert answer.json()["reason"] == "member_not_found"
    assert_refused(await ask(plan, guess("M2000301", 0), "roamer"))
    batch = await plan.eligibility.post(
        "/eligibility/v1/inquiries/batch",
        json={"inquiries": [guess("M2000301", 0)]},
        headers=plan.auth(client_id="roamer", sub="roamer"),
    )
    assert_refused(batch)
    fine = await ask(plan, guess("M2000301", 0), "careful-office")
    assert fine.json()["status"] == "active", "the member is not locked by another's typos"


async def test_parallel_guesses_cannot_slip_under_the_limit(plan: Plan) -> None:
    for round_ in range(3):
        member = f"M20010{round_}01"
        await add_member(plan, member)
        wrong = [ask(plan, guess(member, n), f"racer-{round_}-{n}") for n in range(1, 20)]
        right = [ask(plan, guess(member, 0), f"racer-{round_}-right")]
        answers = await asyncio.gather(*wrong, *right)
        statuses = [a.status_code for a in answers]
        assert set(statuses) <= {200, 429}, statuses
        failed = [a for a in answers if a.status_code == 200 and a.json()["status"] == "not_found"]
        assert len(failed) == 5, f"round {round_}: {len(failed)} failed matches were answered"
        async with plan.sessions() as session:
            counter = await session.get(FailedMatchCounter, ("member", member))
            assert counter is not None and counter.failures == len(failed)


async def test_without_the_database_nothing_is_answered(plan: Plan) -> None:
    """The counters live with the members: no database, no answer (503, not a 500 or data)."""
    async with AsyncExitStack() as stack:
        jwks = await stack.enter_async_context(plan.issuer.http_client())
        verifier = TokenVerifier(ISSUER, AUDIENCE, JWKS_URI, http_client=jwks)
        down = plan_settings("postgresql+asyncpg://postgres@127.0.0.1:9/plan")
        client = await serve(stack, eligibility.create_app, down, verifier)
        single = await client.post(
            "/eligibility/v1/inquiries", json=guess("M1000101", 0), headers=plan.auth()
        )
        batch = await client.post(
            "/eligibility/v1/inquiries/batch",
            json={"inquiries": [guess("M1000101", 0)]},
            headers=plan.auth(),
        )
    for response in (single, batch):
        assert response.status_code == 503, response.text
        assert response.json()["type"].endswith("/service-unavailable")
        assert int(response.headers["Retry-After"]) > 0


def claim_guess(member_id: str, days_off: int) -> dict[str, Any]:
    """A claim that is never adjudicated (unknown procedure) but still checks the birth date."""
    body = claim_body(member_id, "2026-02-02")
    body["member"]["date_of_birth"] = (BORN + timedelta(days=days_off)).isoformat()
    body["lines"][0]["procedure_code"] = "0000"
    return body


async def test_claims_that_guess_the_birth_date_are_refused_too(plan: Plan) -> None:
    await add_member(plan, "M2000401")
    guesses = [claim_guess("M2000401", day) for day in range(-30, 70)]  # right one: 31st
    headers = biller(plan, client_id="claim-guesser", sub="claim-guesser")
    response = await plan.claims.post(
        "/claims/v1/claims/bulk", json={"claims": guesses}, headers=headers
    )
    assert response.status_code == 200, response.text
    codes = [{e["code"] for e in r["edits"]} for r in response.json()["results"]]
    assert all("date_of_birth_mismatch" in c for c in codes[:5])
    assert all(
        "too_many_failed_matches" in c and "date_of_birth_mismatch" not in c for c in codes[5:]
    ), "past the limit no claim says whether the date of birth matched"
    assert "too_many_failed_matches" in codes[30]
    # The member stays locked for eligibility too, whoever asks.
    assert_refused(await ask(plan, guess("M2000401", 0), "another-office"))


async def test_an_eligibility_lock_holds_for_claims(plan: Plan) -> None:
    await add_member(plan, "M2000501")
    for n in range(1, 6):
        await ask(plan, guess("M2000501", n), "office-a")
    right = claim_body("M2000501", "2026-02-02")
    right["member"]["date_of_birth"] = BORN.isoformat()
    headers = biller(plan, client_id="office-b", sub="office-b")
    refused = await plan.claims.post("/claims/v1/claims", json=right, headers=headers)
    assert refused.status_code == 422, refused.text
    (edit,) = refused.json()["edits"]
    assert edit["code"] == "too_many_failed_matches" and "date of birth" in edit["description"]
    without_birth_date = claim_body("M2000501", "2026-02-03")
    accepted = await plan.claims.post("/claims/v1/claims", json=without_birth_date, headers=headers)
    assert accepted.status_code == 201, "a claim that asks nothing about the member goes through"
