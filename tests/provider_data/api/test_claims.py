"""Claims: visible only under a Tax ID they were billed with; a search pages both ways
(next and previous cursors), and a reversed date range is refused with a reason."""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy import select

from provider_data.platform.models import AccessEvent
from tests.provider_data.conftest import Plan


async def numbers_by_tin(plan: Plan) -> dict[str, list[str]]:
    everything = await plan.claims.get(
        "/claims/v1/claims",
        params={"limit": 100},
        headers=plan.auth(tax_ids=["123456789", "987654321", "444444444"]),
    )
    found: dict[str, list[str]] = {}
    for claim in everything.json()["claims"]:
        found.setdefault(claim["billing_tin"], []).append(claim["claim_number"])
    return found


async def test_list_shows_only_the_tokens_tins(plan: Plan) -> None:
    response = await plan.claims.get("/claims/v1/claims", headers=plan.auth(tax_ids=["123456789"]))
    assert response.status_code == 200
    claims = response.json()["claims"]
    assert claims and {c["billing_tin"] for c in claims} == {"123456789"}
    assert {c["status"] for c in claims} == {"pended", "paid", "denied", "partially_paid"}
    assert all(c["billed_amount"].count(".") == 1 for c in claims)


async def test_each_tin_sees_its_own(plan: Plan) -> None:
    found = await numbers_by_tin(plan)
    assert set(found) == {"123456789", "987654321", "444444444"}
    for tin in found:
        response = await plan.claims.get(
            "/claims/v1/claims", params={"limit": 100}, headers=plan.auth(tax_ids=[tin])
        )
        assert sorted(c["claim_number"] for c in response.json()["claims"]) == sorted(found[tin])


async def test_another_tins_claim_answers_like_a_missing_one(plan: Plan) -> None:
    found = await numbers_by_tin(plan)
    headers = plan.auth(tax_ids=["123456789"])
    own = await plan.claims.get(f"/claims/v1/claims/{found['123456789'][0]}", headers=headers)
    other = await plan.claims.get(f"/claims/v1/claims/{found['987654321'][0]}", headers=headers)
    missing = await plan.claims.get("/claims/v1/claims/C-0000-000000", headers=headers)
    assert own.status_code == 200 and own.json()["billing_tin"] == "123456789"
    assert other.status_code == missing.status_code == 404
    assert other.json() == missing.json()


async def test_filters(plan: Plan) -> None:
    headers = plan.auth(tax_ids=["123456789"])
    paid = (
        await plan.claims.get("/claims/v1/claims", params={"status": "paid"}, headers=headers)
    ).json()["claims"]
    member = (
        await plan.claims.get(
            "/claims/v1/claims", params={"member_id": "m1000201"}, headers=headers
        )
    ).json()["claims"]
    dated = (
        await plan.claims.get(
            "/claims/v1/claims",
            params={"service_date_from": "2026-03-01", "service_date_to": "2026-05-31"},
            headers=headers,
        )
    ).json()["claims"]
    assert paid and {c["status"] for c in paid} == {"paid"}
    assert paid[0]["paid_amount"] != "0.00" and paid[0]["patient_responsibility"] == "25.00"
    assert member and {c["member_id"] for c in member} == {"M1000201"}
    assert all("2026-03-01" <= c["service_date"] <= "2026-05-31" for c in dated)


async def test_no_matching_provider_record_is_403(plan: Plan) -> None:
    response = await plan.claims.get("/claims/v1/claims", headers=plan.auth(tax_ids=["555000111"]))
    assert response.status_code == 403
    assert "match no provider record" in response.json()["detail"]


async def test_claims_scope_required(plan: Plan) -> None:
    response = await plan.claims.get(
        "/claims/v1/claims", headers=plan.auth(scope="eligibility:read")
    )
    assert response.status_code == 403
    assert response.json()["reason"] == "insufficient_scope"


async def test_invalid_status_filter_is_422(plan: Plan) -> None:
    response = await plan.claims.get(
        "/claims/v1/claims", params={"status": "lost"}, headers=plan.auth()
    )
    assert response.status_code == 422


async def test_reading_another_tins_claim_is_audited_as_denied(plan: Plan) -> None:
    found = await numbers_by_tin(plan)
    await plan.claims.get(
        f"/claims/v1/claims/{found['444444444'][0]}",
        headers=plan.auth(sub="snoop", tax_ids=["123456789"]),
    )
    async with plan.sessions() as session:
        event = await session.scalar(select(AccessEvent).where(AccessEvent.subject == "snoop"))
    assert event is not None
    assert (event.action, event.allowed, event.reason, event.tax_id) == (
        "claim.read",
        False,
        "tin_not_billed",
        "444444444",
    )


async def test_health(plan: Plan) -> None:
    assert (await plan.claims.get("/healthz")).json() == {"status": "ok"}
    ready = await plan.claims.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok", "jwks": "ok"}


async def test_reading_an_own_claim_is_audited_as_allowed(plan: Plan) -> None:
    found = await numbers_by_tin(plan)
    number = found["987654321"][0]
    response = await plan.claims.get(
        f"/claims/v1/claims/{number}", headers=plan.auth(sub="reader", tax_ids=["987654321"])
    )
    async with plan.sessions() as session:
        event = await session.scalar(select(AccessEvent).where(AccessEvent.subject == "reader"))
    assert event is not None
    assert (event.action, event.allowed, event.reason, event.tax_id, event.member_id) == (
        "claim.read",
        True,
        "allowed",
        "987654321",
        response.json()["member_id"],
    )


TINS = ["123456789", "987654321"]


async def _page(plan: Plan, **params: Any) -> dict[str, Any]:
    headers = plan.auth(roles=["subscriber", "billing"], tax_ids=TINS)
    response = await plan.claims.get("/claims/v1/claims", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _numbers(body: dict[str, Any]) -> list[str]:
    return [c["claim_number"] for c in body["claims"]]


async def test_pages_walk_forward_then_back_to_the_first(plan: Plan) -> None:
    whole = _numbers(await _page(plan, limit=100))
    assert len(whole) > 6
    first = await _page(plan, limit=3)
    assert first["previous_cursor"] is None and first["next_cursor"]
    pages = [first]
    while pages[-1]["next_cursor"]:
        pages.append(await _page(plan, limit=3, cursor=pages[-1]["next_cursor"]))
    assert [n for p in pages for n in _numbers(p)] == whole
    assert all(p["previous_cursor"] for p in pages[1:])
    back = pages[-1]
    for expected in reversed(pages[:-1]):
        back = await _page(plan, limit=3, cursor=back["previous_cursor"])
        assert _numbers(back) == _numbers(expected)
        assert back["next_cursor"]
    assert back["previous_cursor"] is None, "the first page, reached going back, says so"


async def test_going_back_after_one_page_with_filters(plan: Plan) -> None:
    paid = _numbers(await _page(plan, limit=100, status="paid"))
    first = await _page(plan, limit=1, status="paid")
    second = await _page(plan, limit=1, status="paid", cursor=first["next_cursor"])
    assert _numbers(first) + _numbers(second) == paid[:2]
    again = await _page(plan, limit=1, status="paid", cursor=second["previous_cursor"])
    assert _numbers(again) == _numbers(first) and again["previous_cursor"] is None


async def test_a_reversed_date_range_is_refused_with_a_reason(plan: Plan) -> None:
    response = await plan.claims.get(
        "/claims/v1/claims",
        params={"service_date_from": "2026-05-31", "service_date_to": "2026-03-01"},
        headers=plan.auth(),
    )
    assert response.status_code == 422
    body = response.json()
    assert body["type"].endswith("/validation")
    assert body["errors"] == [
        {
            "field": "service_date_to",
            "message": "The range ends (2026-03-01) before it starts (2026-05-31).",
        }
    ]


async def test_a_cursor_with_an_unknown_direction_is_a_bad_cursor(plan: Plan) -> None:
    forged = base64.urlsafe_b64encode(b"2026-03-02|1|sideways").decode().rstrip("=")
    response = await plan.claims.get(
        "/claims/v1/claims", params={"cursor": forged}, headers=plan.auth()
    )
    assert response.status_code == 400 and response.json()["type"].endswith("/bad-cursor")
