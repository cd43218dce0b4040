"""Claims search pages both ways (next and previous cursors), and a reversed date range
is refused with a reason instead of answering nothing."""

from __future__ import annotations

import base64
from typing import Any

from tests.provider_data.conftest import Plan

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
