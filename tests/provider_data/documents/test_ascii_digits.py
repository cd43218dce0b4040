"""TINs and NPIs are ASCII digits: look-alikes (full-width, Arabic-Indic) pass
str.isdigit() and regex \\d, and are refused at every API boundary naming the field."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.provider_data.conftest import Plan, biller, claim_body
from tests.support.digits import arabic_indic, full_width

LOOK_ALIKES = [full_width, arabic_indic]


def field_errors(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    return {e["field"]: e["message"] for e in response.json()["errors"]}


@pytest.mark.parametrize("look_alike", LOOK_ALIKES)
async def test_eligibility_provider_npi(plan: Plan, look_alike: Callable[[str], str]) -> None:
    inquiry = {
        "member_id": "M1000101",
        "date_of_birth": "1985-04-12",
        "provider_npi": look_alike("1234567893"),
    }
    response = await plan.eligibility.post(
        "/eligibility/v1/inquiries", json=inquiry, headers=plan.auth()
    )
    assert "ten digits 0-9" in field_errors(response)["provider_npi"]
    batch = await plan.eligibility.post(
        "/eligibility/v1/inquiries/batch", json={"inquiries": [inquiry]}, headers=plan.auth()
    )
    assert "ten digits 0-9" in field_errors(batch)["inquiries.0.provider_npi"]


@pytest.mark.parametrize("look_alike", LOOK_ALIKES)
async def test_claim_billing_tin_and_npi(plan: Plan, look_alike: Callable[[str], str]) -> None:
    body = claim_body("M1000101", "2026-02-02")
    body["billing_provider"] = {"npi": "1234567893", "tin": look_alike("12-3456789")}
    response = await plan.claims.post("/claims/v1/claims", json=body, headers=biller(plan))
    assert "nine digits 0-9" in field_errors(response)["billing_provider.tin"]
    body["billing_provider"] = {"npi": look_alike("1234567893"), "tin": "123456789"}
    rejected = await plan.claims.post("/claims/v1/claims", json=body, headers=biller(plan))
    assert rejected.status_code == 422, rejected.text
    edits = {e["code"]: e for e in rejected.json()["edits"]}
    assert edits["invalid_billing_npi"]["field"] == "billing_provider.npi"


@pytest.mark.parametrize("look_alike", LOOK_ALIKES)
async def test_claims_search_tin(plan: Plan, look_alike: Callable[[str], str]) -> None:
    response = await plan.claims.get(
        "/claims/v1/claims", params={"tin": look_alike("123456789")}, headers=plan.auth()
    )
    assert "query.tin" in field_errors(response)
    ascii_ = await plan.claims.get(
        "/claims/v1/claims", params={"tin": "12-3456789"}, headers=plan.auth()
    )
    assert ascii_.status_code == 200, ascii_.text
