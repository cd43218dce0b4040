"""Identity's REST APIs have an OpenAPI document (/openapi.json) and Swagger UI (/docs)."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from fastapi.routing import APIRoute, iter_route_contexts

from tests.identity.harness import IdentityHarness

PROBLEM_JSON = "application/problem+json"


def _operations(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"{method.upper()} {path}": operation
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    }


def _api_routes(identity: IdentityHarness) -> set[str]:
    """Every method and path the app routes under /api/ (read from the router itself)."""
    found = set()
    for context in iter_route_contexts(identity.app.routes):
        if isinstance(context.original_route, APIRoute) and (context.path or "").startswith(
            "/api/"
        ):
            found |= {f"{m} {context.path}" for m in context.original_route.methods or ()}
    return found


async def test_every_rest_route_is_documented_and_nothing_else(identity: IdentityHarness) -> None:
    async with identity.client() as client:
        answer = await client.get("/openapi.json")
    assert answer.status_code == 200
    operations = _operations(answer.json())
    assert set(operations) == _api_routes(identity)
    assert {
        "POST /api/v1/organizations/{org_id}/tax-ids",
        "GET /api/v1/operator/registrations",
    } <= set(operations)
    paths = answer.json()["paths"]
    assert not [p for p in paths if p.startswith(("/token", "/authorize", "/login", "/console"))]


async def test_bodies_security_and_problem_responses_are_described(
    identity: IdentityHarness,
) -> None:
    async with identity.client() as client:
        spec = (await client.get("/openapi.json")).json()
    operations = _operations(spec)
    add_tin = operations["POST /api/v1/organizations/{org_id}/tax-ids"]
    body = add_tin["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert spec["components"]["schemas"][body.rsplit("/", 1)[-1]]["required"] == ["tin"]
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for name, operation in operations.items():
        assert operation["security"] == [{"bearer": []}], name
        for status in ("401", "404", "422"):
            content = operation["responses"][status]["content"]
            assert content[PROBLEM_JSON]["schema"] == {"$ref": "#/components/schemas/Problem"}


async def test_docs_page_allows_only_its_own_script(identity: IdentityHarness) -> None:
    async with identity.client() as client:
        page = await client.get("/docs")
    assert page.status_code == 200
    assert "/openapi.json" in page.text
    policy = page.headers["content-security-policy"]
    inline = re.findall(r"<script>(.*?)</script>", page.text, flags=re.DOTALL)
    assert len(inline) == 1
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    assert f"'sha256-{digest}'" in policy
    assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
