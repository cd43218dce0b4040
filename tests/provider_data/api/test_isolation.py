"""TIN isolation on every endpoint, and the plan roles (billing, clinical)."""

from __future__ import annotations

from typing import Any

import httpx

from provider_data.documents import npi
from tests.provider_data.conftest import (
    EVERGREEN_NPI,
    WRITE_SCOPE,
    Plan,
    add_member,
    biller,
    claim_body,
)

# Which provider records a caller's TINs match (no patient data), when that route is served.
PROVIDERS_ROUTE = ("GET", "/eligibility/v1/providers")
ROUTES = {
    ("POST", "/eligibility/v1/inquiries"),
    ("POST", "/eligibility/v1/inquiries/batch"),
    ("GET", "/claims/v1/claims"),
    ("POST", "/claims/v1/claims"),
    ("POST", "/claims/v1/claims/bulk"),
    ("GET", "/claims/v1/claims/{claim_number}"),
    ("GET", "/claims/v1/claims/{claim_number}/eob"),
}


async def api_routes(client: httpx.AsyncClient) -> set[tuple[str, str]]:
    spec = (await client.get("/openapi.json")).json()
    return {
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method in operations
        if not path.endswith("z")
    }


async def evergreen_claim(plan: Plan) -> str:
    listed = await plan.claims.get("/claims/v1/claims", headers=biller(plan))
    return str(listed.json()["claims"][0]["claim_number"])


async def batches_refuse_another_tin(
    plan: Plan, lakeside: dict[str, str], inquiry: dict[str, Any]
) -> None:
    batch = await plan.eligibility.post(
        "/eligibility/v1/inquiries/batch", json={"inquiries": [inquiry]}, headers=lakeside
    )
    assert batch.json()["results"][0]["outcome"] == "refused"
    bulk = await plan.claims.post(
        "/claims/v1/claims/bulk", json={"claims": [claim_body("M1000101")]}, headers=lakeside
    )
    assert bulk.json()["results"][0]["edits"][0]["code"] == "billing_tin_not_authorized"


async def test_every_endpoint_with_another_tins_token(plan: Plan) -> None:
    """Lakeside (444444444) has its own provider record, so it passes the plan check,
    but nothing billed under Evergreen (123456789) is ever shown to it."""
    walked = await api_routes(plan.eligibility) | await api_routes(plan.claims)
    assert walked - {PROVIDERS_ROUTE} == ROUTES, "a new endpoint needs a TIN isolation check here"
    number = await evergreen_claim(plan)
    lakeside = biller(plan, tin="444444444")
    inquiry = {
        "member_id": "M1000101",
        "date_of_birth": "1985-04-12",
        "provider_npi": EVERGREEN_NPI,
    }
    checks: list[tuple[httpx.Response, int]] = [
        (
            await plan.eligibility.post(
                "/eligibility/v1/inquiries", json=inquiry, headers=lakeside
            ),
            403,
        ),
        (
            await plan.claims.get(
                "/claims/v1/claims", params={"tin": "123456789"}, headers=lakeside
            ),
            403,
        ),
        (await plan.claims.get(f"/claims/v1/claims/{number}", headers=lakeside), 404),
        (await plan.claims.get(f"/claims/v1/claims/{number}/eob", headers=lakeside), 404),
        (
            await plan.claims.post(
                "/claims/v1/claims", json=claim_body("M1000101"), headers=lakeside
            ),
            403,
        ),
    ]
    for response, status in checks:
        assert response.status_code == status, (response.request.url, response.text)
    await batches_refuse_another_tin(plan, lakeside, inquiry)
    assert checks[1][0].json()["type"].endswith("/tin-not-yours")
    assert "12-3456789 is not one of your account's Tax IDs" in checks[1][0].json()["detail"]
    own = await plan.claims.get("/claims/v1/claims", params={"limit": 100}, headers=lakeside)
    searched = await plan.claims.get(
        "/claims/v1/claims", params={"claim_number": number}, headers=lakeside
    )
    assert {c["billing_tin"] for c in own.json()["claims"]} == {"444444444"}
    assert searched.json()["claims"] == []
    if PROVIDERS_ROUTE in walked:
        matched = await plan.eligibility.get("/eligibility/v1/providers", headers=lakeside)
        assert {p["tin"] for p in matched.json()["providers"]} == {"444444444"}
    missing = await plan.claims.get("/claims/v1/claims/C-0000-00000000/eob", headers=lakeside)
    assert checks[3][0].json() == missing.json()


async def test_every_endpoint_refuses_tins_without_a_provider_record(plan: Plan) -> None:
    harbor = biller(plan, tin="555000111")
    number = await evergreen_claim(plan)
    inquiry = {"member_id": "M1000101", "date_of_birth": "1985-04-12"}
    responses = [
        await plan.eligibility.post("/eligibility/v1/inquiries", json=inquiry, headers=harbor),
        await plan.claims.get("/claims/v1/claims", headers=harbor),
        await plan.claims.get(f"/claims/v1/claims/{number}", headers=harbor),
        await plan.claims.get(f"/claims/v1/claims/{number}/eob", headers=harbor),
    ]
    assert [r.status_code for r in responses] == [403, 403, 403, 403]
    assert all(r.json()["reason"] == "no_matching_provider_record" for r in responses)


def clinical(plan: Plan, **claims: Any) -> dict[str, str]:
    return plan.auth(scope=WRITE_SCOPE, roles=["subscriber", "clinical"], **claims)


async def test_clinical_checks_eligibility_and_status_but_sees_no_amounts(plan: Plan) -> None:
    number = await evergreen_claim(plan)
    eligibility = await plan.eligibility.post(
        "/eligibility/v1/inquiries",
        json={"member_id": "M1000101", "date_of_birth": "1985-04-12"},
        headers=clinical(plan),
    )
    listed = await plan.claims.get("/claims/v1/claims", headers=clinical(plan))
    status = await plan.claims.get(f"/claims/v1/claims/{number}", headers=clinical(plan))
    eob = await plan.claims.get(f"/claims/v1/claims/{number}/eob", headers=clinical(plan))
    await add_member(plan, "R1000001")
    submit = await plan.claims.post(
        "/claims/v1/claims", json=claim_body("R1000001"), headers=clinical(plan)
    )
    assert eligibility.status_code == 200 and eligibility.json()["status"] == "active"
    assert listed.status_code == 200 and listed.json()["claims"]
    assert all(
        c["paid_amount"] is None and c["billed_amount"] is None for c in listed.json()["claims"]
    )
    assert (
        status.status_code == 200
        and status.json()["status"]
        and status.json()["paid_amount"] is None
    )
    assert (eob.status_code, eob.json()["reason"]) == (403, "missing_role")
    assert (submit.status_code, submit.json()["reason"]) == (403, "missing_role")


async def test_billing_sees_amounts_and_submits(plan: Plan) -> None:
    number = await evergreen_claim(plan)
    status = await plan.claims.get(f"/claims/v1/claims/{number}", headers=biller(plan))
    eob = await plan.claims.get(f"/claims/v1/claims/{number}/eob", headers=biller(plan))
    assert status.json()["billed_amount"] is not None and eob.status_code == 200


async def test_submitting_needs_claims_write(plan: Plan) -> None:
    response = await plan.claims.post(
        "/claims/v1/claims", json=claim_body("M1000101"), headers=plan.auth()
    )
    assert (response.status_code, response.json()["reason"]) == (403, "insufficient_scope")
    assert "insufficient_scope" in response.headers["www-authenticate"]


async def test_search_pages_with_a_cursor(plan: Plan) -> None:
    headers = biller(plan)
    seen: list[str] = []
    cursor = None
    for _ in range(20):
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await plan.claims.get("/claims/v1/claims", params=params, headers=headers)).json()
        seen += [c["claim_number"] for c in page["claims"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    everything = await plan.claims.get("/claims/v1/claims", params={"limit": 100}, headers=headers)
    assert seen == [c["claim_number"] for c in everything.json()["claims"]]
    assert len(seen) == len(set(seen)) > 3
    bad = await plan.claims.get("/claims/v1/claims", params={"cursor": "!!"}, headers=headers)
    assert bad.status_code == 400 and bad.json()["type"].endswith("/bad-cursor")


async def test_search_filters(plan: Plan) -> None:
    headers = biller(plan)
    number = await evergreen_claim(plan)
    by_number = await plan.claims.get(
        "/claims/v1/claims", params={"claim_number": number}, headers=headers
    )
    by_tin = await plan.claims.get(
        "/claims/v1/claims", params={"tin": "12-3456789"}, headers=headers
    )
    by_member = await plan.claims.get(
        "/claims/v1/claims", params={"member_id": "m10001*01"}, headers=headers
    )
    partial = await plan.claims.get(
        "/claims/v1/claims", params={"status": "partially_paid"}, headers=headers
    )
    assert [c["claim_number"] for c in by_number.json()["claims"]] == [number]
    assert {c["billing_tin"] for c in by_tin.json()["claims"]} == {"123456789"}
    assert {c["member_id"] for c in by_member.json()["claims"]} == {"M1000101"}
    assert partial.json()["claims"] and {c["status"] for c in partial.json()["claims"]} == {
        "partially_paid"
    }


async def test_npi_of_another_tin_is_not_matched(plan: Plan) -> None:
    response = await plan.eligibility.post(
        "/eligibility/v1/inquiries",
        json={
            "member_id": "M1000101",
            "date_of_birth": "1985-04-12",
            "provider_npi": npi.make("144444444"),
        },
        headers=biller(plan),
    )
    assert response.status_code == 403
