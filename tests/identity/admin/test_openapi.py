"""Identity's REST APIs have an OpenAPI document (/openapi.json) and Swagger UI (/docs)."""

from __future__ import annotations

import re
from typing import Any

from fastapi.routing import APIRoute, iter_route_contexts

from tests.identity.harness import IdentityHarness

PROBLEM_JSON = "application/problem+json"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


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
    schemes = spec["components"]["securitySchemes"]
    code = schemes["authorizationCode"]["flows"]["authorizationCode"]
    assert code["authorizationUrl"] == f"{identity.settings.issuer}/authorize"
    assert code["tokenUrl"] == f"{identity.settings.issuer}/token"
    assert set(code["scopes"]) == {"tinpass:admin"}
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert "ValidationError" not in spec["components"]["schemas"]
    for name, operation in operations.items():
        assert operation["security"] == [{"authorizationCode": ["tinpass:admin"]}], name
        assert {"401", "403", "404", "422", "503"} <= set(operation["responses"]), name
        for status, response in operation["responses"].items():
            if status >= "400":
                content = response["content"]
                assert content == {PROBLEM_JSON: {"schema": PROBLEM_REF}}, (name, status)
    invite = operations["POST /api/v1/organizations/{org_id}/nominations"]
    assert "Retry-After" in invite["responses"]["429"]["description"]
    assert "409" in operations["DELETE /api/v1/organizations/{org_id}/tax-ids/{tin}"]["responses"]


async def test_the_problem_schema_is_what_refusals_answer(identity: IdentityHarness) -> None:
    """A real 401, 404 and 422 validate against the documented problem schema."""
    async with identity.client() as client:
        spec = (await client.get("/openapi.json")).json()
        answers = [
            await client.get("/api/v1/organizations/none"),
            await client.get("/api/v1/nothing-here"),
        ]
    schema = spec["components"]["schemas"]["Problem"]
    for answer in answers:
        assert answer.headers["content-type"] == PROBLEM_JSON
        body = answer.json()
        assert set(schema["required"]) <= set(body), body
        assert body["status"] == answer.status_code


async def test_docs_page_is_served_by_identity_with_no_script_of_its_own(
    identity: IdentityHarness,
) -> None:
    """Swagger UI's files come from identity itself (no CDN): the page works offline."""
    async with identity.client() as client:
        page = await client.get("/docs")
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        fetched = {a: await client.get(a) for a in assets if not a.endswith(".json")}
    assert page.status_code == 200
    assert 'data-openapi-url="/openapi.json"' in page.text
    assert "<script>" not in page.text and "http" not in page.text.replace("http-equiv", "")
    assert {a for a in fetched if a.startswith("/docs/assets/")} == set(fetched)
    assert all(answer.status_code == 200 for answer in fetched.values()), fetched
    assert (
        fetched["/docs/assets/swagger-ui-bundle.js"]
        .headers["content-type"]
        .startswith("text/javascript")
    )
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "style-src 'self';" in policy
    assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    async with identity.client() as client:
        assert (await client.get("/docs/assets/../settings.py")).status_code == 404
        assert (await client.get("/docs/assets/VERSION")).status_code == 404
