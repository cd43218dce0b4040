"""A claim pended for medical review: received -> pended -> paid (or denied)."""

from __future__ import annotations

import anyio.to_thread
import pytest

from provider_data import cli
from tests.provider_data.conftest import Plan, add_member, biller, claim_body


async def pended_claim(plan: Plan, member: str, on: str) -> str:
    """Office visit 99214 billed 220.00 with modifier 22 (increased procedural services)."""
    await add_member(plan, member)
    body = claim_body(
        member,
        on,
        total_charge="220.00",
        lines=[
            {"procedure_code": "99214", "modifiers": ["22"], "charge": "220.00", "service_date": on}
        ],
    )
    response = await plan.claims.post("/claims/v1/claims", json=body, headers=biller(plan))
    assert response.status_code == 201 and response.json()["status"] == "pended"
    return str(response.json()["claim_number"])


async def review(plan: Plan, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setenv("DATABASE_URL", plan.database_url)
    code: int = await anyio.to_thread.run_sync(cli.main, ["claims", "review", *args])
    return code


async def test_approved_review_pays_and_moves_the_accumulators(
    plan: Plan, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # 99214 fee 135.00: allowed 135.00 (CO-45 85.00), $25 copay, paid 110.00.
    number = await pended_claim(plan, "V1000001", "2026-04-06")
    assert await review(plan, monkeypatch, number, "--approve") == 0
    assert (
        f"claim {number} paid: allowed 135.00, paid 110.00, patient 25.00"
        in capsys.readouterr().out
    )
    eob = (await plan.claims.get(f"/claims/v1/claims/{number}/eob", headers=biller(plan))).json()
    assert [h["status"] for h in eob["claim"]["history"]] == ["received", "pended", "paid"]
    (line,) = eob["lines"]
    assert [(a["group_code"], a["reason_code"], a["amount"]) for a in line["adjustments"]] == [
        ("CO", "45", "85.00"),
        ("PR", "3", "25.00"),
    ]
    answer = await plan.eligibility.post(
        "/eligibility/v1/inquiries",
        json={
            "member_id": "V1000001",
            "date_of_birth": "1990-01-01",
            "date_of_service": "2026-05-01",
        },
        headers=biller(plan),
    )
    oop = next(
        a
        for a in answer.json()["accumulators"]
        if (a["kind"], a["level"], a["network"]) == ("out_of_pocket", "individual", "in_network")
    )
    assert oop["met"] == "25.00"


async def test_denied_review_and_what_cannot_be_reviewed(
    plan: Plan, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    number = await pended_claim(plan, "V1000101", "2026-04-07")
    assert await review(plan, monkeypatch, number, "--deny") == 0
    eob = (await plan.claims.get(f"/claims/v1/claims/{number}/eob", headers=biller(plan))).json()
    assert eob["claim"]["status"] == "denied" and eob["claim"]["category_code"] == "F2"
    assert [(a["group_code"], a["reason_code"]) for a in eob["lines"][0]["adjustments"]] == [
        ("CO", "50")
    ]
    assert [r["code"] for r in eob["lines"][0]["remarks"]] == ["N10"]
    assert await review(plan, monkeypatch, number, "--approve") == 1
    assert await review(plan, monkeypatch, "C-0000-00000000", "--deny") == 1
    err = capsys.readouterr().err
    assert f"claim {number} is denied, not pended for review" in err
    assert "no claim C-0000-00000000" in err
