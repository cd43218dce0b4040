"""Eligibility inquiries, decided by the token's Tax IDs against provider records."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from provider_data.models import AccessEvent
from tests.provider_data.conftest import Plan

ACTIVE = {"member_id": "M1000101", "date_of_birth": "1985-04-12"}


async def test_active_member(plan: Plan) -> None:
    response = await plan.eligibility.post(
        "/eligibility/v1/inquiries", json=ACTIVE, headers=plan.auth()
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "active" and body["reason"] is None
    assert body["member"]["last_name"] == "Rivera"
    assert body["plan"]["name"] == "Cascade Health Plan"
    assert body["benefits"]["copay_office_visit"] == "25.00"
    assert body["matched_provider"]["tin"] == "123456789"
    assert body["date_of_service"] == date.today().isoformat()


async def test_terminated_member_is_inactive(plan: Plan) -> None:
    response = await plan.eligibility.post(
        "/eligibility/v1/inquiries",
        json={
            "member_id": "M1000201",
            "date_of_birth": "1962-09-30",
            "date_of_service": "2026-03-01",
        },
        headers=plan.auth(),
    )
    body = response.json()
    assert (body["status"], body["reason"]) == ("inactive", "coverage_not_active")
    assert body["coverage"]["termination_date"] == "2025-12-31"
    assert body["benefits"] is None


async def test_terminated_member_was_active_before_termination(plan: Plan) -> None:
    response = await plan.eligibility.post(
        "/eligibility/v1/inquiries",
        json={
            "member_id": "M1000201",
            "date_of_birth": "1962-09-30",
            "date_of_service": "2025-06-01",
        },
        headers=plan.auth(),
    )
    assert response.json()["status"] == "active"


async def test_unknown_member_and_wrong_birth_date(plan: Plan) -> None:
    unknown = await plan.eligibility.post(
        "/eligibility/v1/inquiries",
        json={"member_id": "M9999999", "date_of_birth": "1985-04-12"},
        headers=plan.auth(),
    )
    mismatch = await plan.eligibility.post(
        "/eligibility/v1/inquiries",
        json={"member_id": "M1000101", "date_of_birth": "1985-04-13"},
        headers=plan.auth(),
    )
    assert (unknown.json()["status"], unknown.json()["reason"]) == ("not_found", "member_not_found")
    assert (mismatch.json()["status"], mismatch.json()["reason"]) == (
        "not_found",
        "date_of_birth_mismatch",
    )
    assert mismatch.json()["member"] is None, "no demographics without a matching birth date"


async def test_tins_matching_no_provider_record_get_an_explained_403(plan: Plan) -> None:
    response = await plan.eligibility.post(
        "/eligibility/v1/inquiries", json=ACTIVE, headers=plan.auth(tax_ids=["555000111"])
    )
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/no-matching-provider-record")
    assert problem["status"] == 403
    assert "55-5000111" in problem["detail"] and "administrator" in problem["detail"]


async def test_missing_scope_is_403(plan: Plan) -> None:
    response = await plan.eligibility.post(
        "/eligibility/v1/inquiries", json=ACTIVE, headers=plan.auth(scope="claims:read")
    )
    assert response.status_code == 403
    assert response.json()["reason"] == "insufficient_scope"


async def test_missing_and_invalid_tokens_are_401_with_a_challenge(plan: Plan) -> None:
    missing = await plan.eligibility.post("/eligibility/v1/inquiries", json=ACTIVE)
    expired = await plan.eligibility.post(
        "/eligibility/v1/inquiries", json=ACTIVE, headers=plan.auth(exp=1, iat=0)
    )
    assert missing.status_code == expired.status_code == 401
    assert missing.headers["www-authenticate"] == 'Bearer realm="tinpass"'
    assert 'error="invalid_token"' in expired.headers["www-authenticate"]
    assert expired.json()["detail"] == "token expired"


async def test_bad_input_is_a_422_problem(plan: Plan) -> None:
    response = await plan.eligibility.post(
        "/eligibility/v1/inquiries",
        json={"member_id": "M1000101", "date_of_birth": "not-a-date"},
        headers=plan.auth(),
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "date_of_birth" in response.json()["detail"]


async def test_every_inquiry_is_an_access_event(plan: Plan) -> None:
    headers = plan.auth(sub="auditor-check", tax_ids=["987654321"])
    await plan.eligibility.post("/eligibility/v1/inquiries", json=ACTIVE, headers=headers)
    await plan.eligibility.post(
        "/eligibility/v1/inquiries",
        json=ACTIVE,
        headers=plan.auth(sub="auditor-check", tax_ids=["555000111"]),
    )
    async with plan.sessions() as session:
        events = list(
            await session.scalars(
                select(AccessEvent)
                .where(AccessEvent.subject == "auditor-check")
                .order_by(AccessEvent.id)
            )
        )
    assert [(e.action, e.allowed, e.reason, e.tax_id, e.member_id) for e in events] == [
        ("eligibility.read", True, "allowed", "987654321", "M1000101"),
        ("eligibility.read", False, "no_matching_provider_record", None, None),
    ]


async def test_a_provider_record_must_be_in_effect_on_the_date_of_service(plan: Plan) -> None:
    before_contract = await plan.eligibility.post(
        "/eligibility/v1/inquiries",
        json={**ACTIVE, "date_of_service": "2019-12-31"},
        headers=plan.auth(),
    )
    assert before_contract.status_code == 403
    assert before_contract.json()["reason"] == "no_matching_provider_record"
