"""The one input rule at the plan's services: a claims cursor whose number is beyond
any id (OverflowError) is a bad cursor; a control character in a path, a query or a
request body is a 400/422 problem naming it (a NUL broke PostgreSQL); an unsafe
X-Request-ID is replaced before it reaches a header, a problem or the trail."""

from __future__ import annotations

import base64
import uuid

import pytest
from sqlalchemy import select

from provider_data.platform.models import AccessEvent
from tests.provider_data.conftest import Plan, biller, claim_body


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "raw", ["2026-03-02|" + "9" * 40, "2026-03-02|-1", "2026-03-02|9223372036854775808"]
)
async def test_a_cursor_beyond_any_id_is_a_bad_cursor(plan: Plan, raw: str) -> None:
    answer = await plan.claims.get(
        "/claims/v1/claims", params={"cursor": _cursor(raw)}, headers=biller(plan)
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["type"].endswith("/bad-cursor")


@pytest.mark.parametrize(
    "target", ["/claims/v1/claims/CLM%00X", "/claims/v1/claims?claim_number=a%00b"]
)
async def test_control_characters_in_path_and_query_are_refused(plan: Plan, target: str) -> None:
    answer = await plan.claims.get(target, headers=biller(plan))
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert "control character" in answer.json()["detail"]


async def test_control_characters_in_bodies_are_refused(plan: Plan) -> None:
    claim = claim_body("M1000101", patient_control_number="PCN\x00-1")
    submitted = await plan.claims.post("/claims/v1/claims", json=claim, headers=biller(plan))
    inquiry = {"member_id": "M10001\x0001", "date_of_birth": "1980-01-01"}
    asked = await plan.eligibility.post(
        "/eligibility/v1/inquiries",
        json=inquiry,
        headers=plan.auth(scope="eligibility:read", tax_ids=["123456789"]),
    )
    assert submitted.status_code == 422, submitted.text
    assert "patient_control_number" in submitted.json()["detail"]
    assert asked.status_code == 422, asked.text
    assert "member_id" in asked.json()["detail"] and "control" in asked.json()["detail"]


async def test_an_unsafe_request_id_is_replaced_before_the_trail(plan: Plan) -> None:
    supplied = "<img src=x>" + "r" * 5000
    answer = await plan.claims.get(
        "/claims/v1/claims", headers={**biller(plan), "X-Request-ID": supplied}
    )
    assert answer.status_code == 200, answer.text
    made = answer.headers["x-request-id"]
    assert uuid.UUID(made)
    async with plan.sessions() as session:
        trail = list(await session.scalars(select(AccessEvent.request_id)))
    assert made in trail and supplied not in trail
