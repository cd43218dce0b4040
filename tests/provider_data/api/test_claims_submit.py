"""Claim submission: front-end edits, adjudication and accumulators, idempotency, bulk."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import anyio
import pytest
from sqlalchemy import func, select

from provider_data.documents import npi
from provider_data.platform.models import AccessEvent, Claim
from tests.provider_data.conftest import Plan, add_member, biller, claim_body


def _set(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    target: Any = body
    *parents, last = path.split(".")
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    target[int(last) if last.isdigit() else last] = value
    return body


FUTURE = (date.today() + timedelta(days=10)).isoformat()
EDIT_CASES = [
    ("invalid_billing_npi", "billing_provider.npi", "1234567890"),
    ("invalid_rendering_npi", "rendering_provider_npi", "1111111111"),
    ("missing_diagnosis", "diagnoses", []),
    ("invalid_diagnosis_code", "diagnoses", ["123"]),
    ("invalid_diagnosis_pointer", "lines.0.diagnosis_pointers", [3]),
    ("invalid_procedure_code", "lines.0.procedure_code", "9921"),
    ("service_date_in_future", "lines.1.service_date", FUTURE),
    ("total_charge_mismatch", "total_charge", "999.00"),
    ("billing_provider_not_on_record", "billing_provider.npi", npi.make("555555555")),
    ("member_not_found", "member.member_id", "Z9999901"),
    ("date_of_birth_mismatch", "member.date_of_birth", "1901-01-01"),
]


@pytest.mark.parametrize(("code", "path", "value"), EDIT_CASES)
async def test_each_front_end_edit_rejects_with_its_code(
    plan: Plan, code: str, path: str, value: Any
) -> None:
    body = _set(claim_body("M1000101", "2026-02-02"), path, value)
    response = await plan.claims.post("/claims/v1/claims", json=body, headers=biller(plan))
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"].endswith("/claim-rejected")
    assert code in [e["code"] for e in problem["edits"]]
    assert all(e["description"] for e in problem["edits"])


async def test_coverage_not_active_on_the_service_date(plan: Plan) -> None:
    body = claim_body("M1000201", "2026-02-02")  # Casey's coverage ended 2025-12-31
    response = await plan.claims.post("/claims/v1/claims", json=body, headers=biller(plan))
    assert [e["code"] for e in response.json()["edits"]] == ["coverage_not_active"]


async def test_an_expired_provider_record_is_not_on_record(plan: Plan) -> None:
    body = claim_body("M1000101", "2026-02-03")
    body["billing_provider"] = {"npi": npi.make("122222222"), "tin": "222222222"}
    response = await plan.claims.post(
        "/claims/v1/claims", json=body, headers=biller(plan, tin="222222222")
    )
    assert [e["code"] for e in response.json()["edits"]] == ["billing_provider_not_on_record"]


async def test_a_duplicate_claim_is_rejected(plan: Plan) -> None:
    await add_member(plan, "D1000001")
    body = claim_body("D1000001", "2026-04-01")
    first = await plan.claims.post("/claims/v1/claims", json=body, headers=biller(plan))
    again = await plan.claims.post(
        "/claims/v1/claims", json={**body, "patient_control_number": "X"}, headers=biller(plan)
    )
    assert first.status_code == 201
    assert [e["code"] for e in again.json()["edits"]] == ["duplicate_claim"]
    assert first.json()["claim_number"] in again.json()["detail"]


async def test_accumulators_after_a_sequence_of_claims(plan: Plan) -> None:
    """A: office visit 150.00 -> copay 25.00, paid 67.00 (deductible 0.00, OOP 25.00).
    B: two labs 60.00 + 40.00, fees 14.00 + 9.00 -> 23.00 to the deductible, paid 0.00
       (deductible 23.00, OOP 48.00).
    C: knee arthroscopy 4,000.00 with authorization, fee 1,150.00 -> all to the
       deductible, paid 0.00 (deductible 1,173.00, OOP 1,198.00).
    D: the same a week later -> deductible 327.00 (its last dollars), coinsurance 20%
       x 823.00 = 164.60, paid 658.40 (deductible 1,500.00, OOP 1,689.60)."""
    await add_member(plan, "A1000001")
    headers = biller(plan)
    visit = claim_body("A1000001", "2026-05-04", total_charge="150.00")
    visit["lines"] = visit["lines"][:1]
    labs = claim_body("A1000001", "2026-05-05", total_charge="100.00")
    labs["lines"] = [
        {"procedure_code": "80053", "charge": "60.00", "service_date": "2026-05-05"},
        {"procedure_code": "85025", "charge": "40.00", "service_date": "2026-05-05"},
    ]
    knees = [
        claim_body(
            "A1000001",
            on,
            total_charge="4000.00",
            prior_authorization="AUTH-77",
            lines=[{"procedure_code": "29881", "charge": "4000.00", "service_date": on}],
        )
        for on in ("2026-05-11", "2026-05-18")
    ]
    paid = []
    for body in (visit, labs, *knees):
        response = await plan.claims.post("/claims/v1/claims", json=body, headers=headers)
        assert response.status_code == 201, response.text
        paid.append((response.json()["status"], response.json()["paid_amount"]))
    assert paid == [("paid", "67.00"), ("paid", "0.00"), ("paid", "0.00"), ("paid", "658.40")]
    answer = await plan.eligibility.post(
        "/eligibility/v1/inquiries",
        json={
            "member_id": "A1000001",
            "date_of_birth": "1990-01-01",
            "date_of_service": "2026-06-01",
        },
        headers=headers,
    )
    met = {
        (a["kind"], a["level"]): (a["met"], a["remaining"])
        for a in answer.json()["accumulators"]
        if a["network"] == "in_network"
    }
    assert met[("deductible", "individual")] == ("1500.00", "0.00")
    assert met[("deductible", "family")] == ("1500.00", "1500.00")
    assert met[("out_of_pocket", "individual")] == ("1689.60", "4310.40")


async def test_eob_line_by_line(plan: Plan) -> None:
    await add_member(plan, "E1000001")
    created = await plan.claims.post(
        "/claims/v1/claims", json=claim_body("E1000001", "2026-06-02"), headers=biller(plan)
    )
    number = created.json()["claim_number"]
    eob = (await plan.claims.get(f"/claims/v1/claims/{number}/eob", headers=biller(plan))).json()
    visit, lab = eob["lines"]
    assert (visit["allowed"], visit["copay"], visit["paid"]) == ("92.00", "25.00", "67.00")
    assert [(a["group_code"], a["reason_code"], a["amount"]) for a in visit["adjustments"]] == [
        ("CO", "45", "58.00"),
        ("PR", "3", "25.00"),
    ]
    assert (lab["deductible"], lab["paid"], lab["patient_responsibility"]) == (
        "14.00",
        "0.00",
        "14.00",
    )
    assert eob["claim"]["status"] == "paid"
    assert [h["status"] for h in eob["claim"]["history"]] == ["received", "paid"]
    assert all(line["adjustments"] for line in eob["lines"])
    assert visit["adjustments"][0]["description"].startswith("Charge exceeds fee schedule")


async def test_an_idempotent_retry_creates_nothing_twice(plan: Plan) -> None:
    await add_member(plan, "I1000001")
    headers = {**biller(plan, sub="replayer"), "Idempotency-Key": "retry-1"}
    body = claim_body("I1000001", "2026-07-01")
    first = await plan.claims.post("/claims/v1/claims", json=body, headers=headers)
    second = await plan.claims.post("/claims/v1/claims", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["idempotency-replayed"] == "true"
    async with plan.sessions() as session:
        replays = list(
            await session.scalars(select(AccessEvent).where(AccessEvent.subject == "replayer"))
        )
    assert [(e.action, e.member_id, e.tax_id) for e in replays] == [
        ("claims.submit", "I1000001", "123456789"),
        ("claims.submit", "I1000001", "123456789"),
    ], "the submission and its replay are each an access to the member's data"
    async with plan.sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Claim)
            .where(Claim.patient_control_number == body["patient_control_number"])
        )
    assert count == 1
    other = await plan.claims.post(
        "/claims/v1/claims", json={**body, "total_charge": "1.00"}, headers=headers
    )
    assert other.status_code == 422 and other.json()["type"].endswith("/idempotency-key-reused")


async def test_bulk_answers_each_claim_on_its_own(plan: Plan) -> None:
    await add_member(plan, "B1000001")
    good = claim_body("B1000001", "2026-08-03")
    others_tin = claim_body("B1000001", "2026-08-04")
    others_tin["billing_provider"] = {"npi": npi.make("144444444"), "tin": "444444444"}
    claims = [good, {"member": "not a claim"}, claim_body("Z9999901"), others_tin]
    headers = {**biller(plan), "Idempotency-Key": "bulk-1"}
    response = await plan.claims.post(
        "/claims/v1/claims/bulk", json={"claims": claims}, headers=headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (1, 3)
    outcomes = [
        (r["index"], r["outcome"], [e["code"] for e in r["edits"]]) for r in body["results"]
    ]
    assert outcomes == [
        (0, "accepted", []),
        (1, "rejected", ["invalid_format"]),
        (2, "rejected", ["member_not_found"]),
        (3, "rejected", ["billing_tin_not_authorized"]),
    ]
    replay = await plan.claims.post(
        "/claims/v1/claims/bulk", json={"claims": claims}, headers=headers
    )
    assert replay.json() == body


async def test_bulk_is_limited_to_1000(plan: Plan) -> None:
    response = await plan.claims.post(
        "/claims/v1/claims/bulk", json={"claims": [{}] * 1001}, headers=biller(plan)
    )
    assert response.status_code == 422


async def test_every_submission_is_audited(plan: Plan) -> None:
    headers = biller(plan, sub="submitter")
    await plan.claims.post("/claims/v1/claims", json=claim_body("Z9999901"), headers=headers)
    async with plan.sessions() as session:
        events = list(
            await session.scalars(select(AccessEvent).where(AccessEvent.subject == "submitter"))
        )
    assert [(e.action, e.allowed, e.member_id, e.tax_id) for e in events] == [
        ("claims.submit", True, "Z9999901", "123456789")
    ]


async def test_concurrent_claims_for_one_member_keep_the_accumulators_exact(plan: Plan) -> None:
    """Eight lab claims at once (fee 14.00 each, all to the deductible): the deductible
    met ends at exactly 8 x 14.00 = 112.00, whatever the interleaving."""
    await add_member(plan, "K1000001")

    async def submit(day: int) -> int:
        on = f"2026-09-{day:02d}"
        body = claim_body(
            "K1000001",
            on,
            total_charge="60.00",
            lines=[{"procedure_code": "80053", "charge": "60.00", "service_date": on}],
        )
        response = await plan.claims.post("/claims/v1/claims", json=body, headers=biller(plan))
        return response.status_code

    codes: list[int] = []

    async def run(day: int) -> None:
        codes.append(await submit(day))

    async with anyio.create_task_group() as group:
        for day in range(1, 9):
            group.start_soon(run, day)
    assert codes == [201] * 8
    answer = await plan.eligibility.post(
        "/eligibility/v1/inquiries",
        json={
            "member_id": "K1000001",
            "date_of_birth": "1990-01-01",
            "date_of_service": "2026-10-01",
        },
        headers=biller(plan),
    )
    met = {
        (a["kind"], a["level"]): a["met"]
        for a in answer.json()["accumulators"]
        if a["network"] == "in_network"
    }
    assert met[("deductible", "individual")] == met[("deductible", "family")] == "112.00"


async def test_claims_of_one_member_in_one_bulk_apply_in_order(plan: Plan) -> None:
    """The knee arthroscopy twice in one request (fee 1,150.00, deductible 1,500.00):
    the first puts 1,150.00 to the deductible, the second the last 350.00, then 20% of
    800.00 = 160.00 coinsurance, paid 640.00. The same claim again is a duplicate."""
    await add_member(plan, "U1000001")
    knees = [
        claim_body(
            "U1000001",
            on,
            total_charge="4000.00",
            prior_authorization="AUTH-9",
            lines=[{"procedure_code": "29881", "charge": "4000.00", "service_date": on}],
        )
        for on in ("2026-06-08", "2026-06-15", "2026-06-15")
    ]
    response = await plan.claims.post(
        "/claims/v1/claims/bulk", json={"claims": knees}, headers=biller(plan)
    )
    results = response.json()["results"]
    assert [r["claim"]["paid_amount"] for r in results[:2]] == ["0.00", "640.00"]
    assert [r["claim"]["patient_responsibility"] for r in results[:2]] == ["1150.00", "510.00"]
    assert results[2]["outcome"] == "rejected"
    assert results[2]["edits"][0]["code"] == "duplicate_claim"
    assert "#1 of this request" in results[2]["edits"][0]["description"]
