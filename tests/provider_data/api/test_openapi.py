"""OpenAPI documents every endpoint with an example, and names its refusals."""

from __future__ import annotations

from typing import Any

import httpx

from tests.provider_data.conftest import Plan


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    found: dict[str, Any] = spec
    for part in ref.removeprefix("#/").split("/"):
        found = found[part]
    return found


def _has_example(spec: dict[str, Any], content: dict[str, Any] | None) -> bool:
    media = (content or {}).get("application/json", {})
    if "example" in media or "examples" in media:
        return True
    schema = _resolve(spec, media.get("schema", {}))
    return "examples" in schema


async def _examples(client: httpx.AsyncClient) -> dict[str, bool]:
    spec = (await client.get("/openapi.json")).json()
    found = {}
    for path, operations in spec["paths"].items():
        if path.endswith("z"):
            continue
        for method, operation in operations.items():
            body = operation.get("requestBody", {}).get("content")
            answers = [
                r.get("content") for code, r in operation["responses"].items() if code < "300"
            ]
            found[f"{method.upper()} {path}"] = _has_example(spec, body) or any(
                _has_example(spec, a) for a in answers
            )
    return found


async def test_every_endpoint_has_an_example(plan: Plan) -> None:
    examples = await _examples(plan.eligibility) | await _examples(plan.claims)
    missing = sorted(name for name, present in examples.items() if not present)
    documented = {"POST /claims/v1/claims", "GET /claims/v1/claims/{claim_number}/eob"}
    assert documented <= set(examples)
    assert missing in ([], ["GET /eligibility/v1/providers"]), missing


async def test_claim_status_carries_the_277_category(plan: Plan) -> None:
    listed = await plan.claims.get("/claims/v1/claims", params={"limit": 100}, headers=plan.auth())
    pairs = {(c["status"], c["category_code"]) for c in listed.json()["claims"]}
    assert pairs == {("paid", "F1"), ("partially_paid", "F1"), ("denied", "F2"), ("pended", "P1")}


PROBLEM_JSON = "application/problem+json"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
SCOPES = {"eligibility:read", "claims:read", "claims:write"}


async def test_every_refusal_is_a_documented_problem_and_every_operation_secured(
    plan: Plan,
) -> None:
    for client in (plan.eligibility, plan.claims):
        spec = (await client.get("/openapi.json")).json()
        schemas = spec["components"]["schemas"]
        assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
        schemes = spec["components"]["securitySchemes"]
        assert set(schemes["clientCredentials"]["flows"]["clientCredentials"]["scopes"]) == SCOPES
        code = schemes["authorizationCode"]["flows"]["authorizationCode"]
        assert code["authorizationUrl"].endswith("/authorize")
        assert code["tokenUrl"].endswith("/token")
        for path, operations in spec["paths"].items():
            if path.endswith("z"):  # /healthz, /readyz: no token, no problem
                continue
            for method, operation in operations.items():
                name = f"{method.upper()} {path}"
                (scope,) = operation["security"][0]["clientCredentials"]
                assert scope in SCOPES, name
                assert {"401", "403", "422", "503"} <= set(operation["responses"]), name
                for status, response in operation["responses"].items():
                    if status >= "400":
                        assert response["content"] == {PROBLEM_JSON: {"schema": PROBLEM_REF}}


async def test_scopes_and_particular_refusals(plan: Plan) -> None:
    spec = (await plan.claims.get("/openapi.json")).json()
    submit = spec["paths"]["/claims/v1/claims"]["post"]
    assert submit["security"][0] == {"clientCredentials": ["claims:write"]}
    assert {"400", "409", "429"} <= set(submit["responses"])
    assert "claim-rejected" in submit["responses"]["422"]["description"]
    assert "idempotency-key-reused" in submit["responses"]["422"]["description"]
    search = spec["paths"]["/claims/v1/claims"]["get"]
    assert search["security"][0] == {"clientCredentials": ["claims:read"]}
    assert "cursor" in search["responses"]["400"]["description"]
    inquiry = (await plan.eligibility.get("/openapi.json")).json()["paths"]
    assert (
        "Retry-After"
        in inquiry["/eligibility/v1/inquiries"]["post"]["responses"]["429"]["description"]
    )


async def test_docs_page_is_served_offline(plan: Plan) -> None:
    page = await plan.claims.get("/docs")
    assert page.status_code == 200 and "/docs/assets/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text
    assert (await plan.claims.get("/docs/assets/swagger-ui.css")).status_code == 200
