"""Eligibility inquiries, decided by the token's Tax IDs against provider records."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from provider_data.platform import audit
from provider_data.platform.models import AccessEvent
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
    office = next(
        b
        for b in body["benefits"]
        if (b["service_type_code"], b["network"]) == ("98", "in_network")
    )
    assert office["copay"] == "25.00" and office["prior_auth_required"] is False
    assert body["matched_provider"]["tin"] == "123456789"
    assert body["matched_provider"]["taxonomy"] == "261QP2300X"
    assert body["matched_provider"]["locations"][0]["city"] == "Tacoma"
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
    assert body["benefits"] == [] and body["accumulators"] == []


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
        ("eligibility.read", False, "no_matching_provider_record", None, "M1000101"),
    ]


async def test_a_provider_record_must_be_in_effect_on_the_date_of_service(plan: Plan) -> None:
    before_contract = await plan.eligibility.post(
        "/eligibility/v1/inquiries",
        json={**ACTIVE, "date_of_service": "2019-12-31"},
        headers=plan.auth(),
    )
    assert before_contract.status_code == 403
    assert before_contract.json()["reason"] == "no_matching_provider_record"


async def test_the_card_star_before_the_suffix_is_optional(plan: Plan) -> None:
    for typed in ("M10001*01", "m10001 * 01", "*M1000101"):
        response = await plan.eligibility.post(
            "/eligibility/v1/inquiries",
            json={**ACTIVE, "member_id": typed},
            headers=plan.auth(),
        )
        member = response.json()["member"]
        assert (member["member_id"], member["subscriber_id"], member["suffix"]) == (
            "M1000101",
            "M10001",
            "01",
        )


async def test_a_dependent_has_a_relation_and_a_pcp(plan: Plan) -> None:
    response = await plan.eligibility.post(
        "/eligibility/v1/inquiries",
        json={"member_id": "M10001*03", "date_of_birth": "2015-02-27", "first_name": "mia"},
        headers=plan.auth(),
    )
    body = response.json()
    assert (body["member"]["relation"], body["member"]["suffix"]) == ("child", "03")
    assert body["pcp"]["name"] == "Evergreen Pediatrics"
    assert body["plan"] == {
        "code": "CHP",
        "name": "Cascade Health Plan",
        "product_code": "CHP-PPO",
        "product": "Cascade Choice PPO",
    }


async def test_a_wrong_name_is_the_271_name_reason(plan: Plan) -> None:
    response = await plan.eligibility.post(
        "/eligibility/v1/inquiries", json={**ACTIVE, "last_name": "Smith"}, headers=plan.auth()
    )
    body = response.json()
    assert (body["status"], body["reason"], body["aaa_reject_code"]) == (
        "not_found",
        "name_mismatch",
        "73",
    )


async def test_benefits_for_the_asked_service_types_with_accumulators(plan: Plan) -> None:
    response = await plan.eligibility.post(
        "/eligibility/v1/inquiries",
        json={**ACTIVE, "date_of_service": "2026-02-01", "service_type_codes": ["47", "uc"]},
        headers=plan.auth(),
    )
    body = response.json()
    assert {(b["service_type_code"], b["network"]) for b in body["benefits"]} == {
        ("47", "in_network"),
        ("47", "out_of_network"),
        ("UC", "in_network"),
        ("UC", "out_of_network"),
    }
    hospital = next(b for b in body["benefits"] if b["service_type_code"] == "47")
    assert hospital["prior_auth_required"] is True and hospital["coinsurance_percent"] == 20
    limits = {(a["kind"], a["level"], a["network"]): a for a in body["accumulators"]}
    assert limits[("deductible", "individual", "in_network")]["amount"] == "1500.00"
    assert limits[("out_of_pocket", "family", "out_of_network")]["amount"] == "24000.00"
    assert body["network"] == "in_network"


async def test_visit_limits_and_network_per_product(plan: Plan) -> None:
    response = await plan.eligibility.post(
        "/eligibility/v1/inquiries",
        json={
            "member_id": "M1000301",
            "date_of_birth": "2016-06-03",
            "service_type_codes": ["PT"],
        },
        headers=plan.auth(tax_ids=["444444444"]),
    )
    body = response.json()
    assert body["plan"]["product_code"] == "CHP-HMO"
    assert body["network"] == "out_of_network", "Lakeside is out of network for the HMO"
    (therapy,) = body["benefits"]
    assert (therapy["visit_limit"], therapy["visits_used"]) == (30, 0)


async def test_an_unknown_service_type_is_422(plan: Plan) -> None:
    response = await plan.eligibility.post(
        "/eligibility/v1/inquiries",
        json={**ACTIVE, "service_type_codes": ["ZZ"]},
        headers=plan.auth(),
    )
    assert response.status_code == 422 and "ZZ" in response.json()["detail"]


async def test_an_ended_provider_record_grants_no_access(plan: Plan) -> None:
    ended = plan.auth(tax_ids=["222222222"])
    during = await plan.eligibility.post(
        "/eligibility/v1/inquiries",
        json={**ACTIVE, "date_of_service": "2024-06-01"},
        headers=ended,
    )
    after = await plan.eligibility.post("/eligibility/v1/inquiries", json=ACTIVE, headers=ended)
    assert during.status_code == 200 and during.json()["matched_provider"]["tin"] == "222222222"
    assert after.status_code == 403


async def test_a_batch_answers_each_inquiry_on_its_own(plan: Plan) -> None:
    inquiries = [
        ACTIVE,
        {"member_id": "M9999901", "date_of_birth": "1990-01-01"},
        {**ACTIVE, "date_of_service": "2019-01-01"},
        {"member_id": "M1000201", "date_of_birth": "1962-09-30", "date_of_service": "2026-03-01"},
    ]
    response = await plan.eligibility.post(
        "/eligibility/v1/inquiries/batch",
        json={"inquiries": inquiries},
        headers=plan.auth(sub="batcher"),
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [(r["index"], r["outcome"]) for r in results] == [
        (0, "answered"),
        (1, "answered"),
        (2, "refused"),
        (3, "answered"),
    ]
    assert [r["answer"]["status"] for r in results if r["answer"]] == [
        "active",
        "not_found",
        "inactive",
    ]
    assert results[2]["problem"]["type"].endswith("/no-matching-provider-record")
    async with plan.sessions() as session:
        await audit.seal(session)  # the chain orders them (the apps' sealer may lag)
        events = list(
            await session.scalars(
                select(AccessEvent)
                .where(AccessEvent.subject == "batcher")
                .order_by(AccessEvent.seq)
            )
        )
    assert [(e.member_id, e.allowed) for e in events] == [
        ("M1000101", True),
        ("M9999901", True),
        ("M1000101", False),
        ("M1000201", True),
    ]


async def test_a_batch_holds_at_most_100(plan: Plan) -> None:
    response = await plan.eligibility.post(
        "/eligibility/v1/inquiries/batch",
        json={"inquiries": [ACTIVE] * 101},
        headers=plan.auth(),
    )
    assert response.status_code == 422
