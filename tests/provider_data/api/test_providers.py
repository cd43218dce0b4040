"""Which provider records the caller's Tax IDs match: what a portal's home page shows."""

from __future__ import annotations

from tests.provider_data.conftest import Plan


async def test_lists_the_records_in_effect_under_the_tokens_tins(plan: Plan) -> None:
    response = await plan.eligibility.get(
        "/eligibility/v1/providers",
        headers=plan.auth(tax_ids=["123456789", "987654321", "555000111"]),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["matched_tax_ids"] == ["123456789", "987654321"]
    assert [(p["tin"], p["name"]) for p in body["providers"]] == [
        ("123456789", "Evergreen Family Clinic"),
        ("987654321", "Evergreen Pediatrics"),
    ]
    assert {p["network_status"] for p in body["providers"]} == {"in_network"}


async def test_a_record_whose_contract_ended_matches_nothing(plan: Plan) -> None:
    response = await plan.eligibility.get(
        "/eligibility/v1/providers", headers=plan.auth(tax_ids=["222222222"])
    )
    assert response.status_code == 403
    assert response.json()["reason"] == "no_matching_provider_record"


async def test_tins_without_records_get_the_explained_refusal(plan: Plan) -> None:
    response = await plan.eligibility.get(
        "/eligibility/v1/providers", headers=plan.auth(tax_ids=["555000111"])
    )
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "55-5000111" in response.json()["detail"]
    assert "administrator" in response.json()["detail"]


async def test_needs_a_token(plan: Plan) -> None:
    response = await plan.eligibility.get("/eligibility/v1/providers")
    assert response.status_code == 401
