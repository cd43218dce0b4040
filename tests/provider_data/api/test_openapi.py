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
