"""The gateway's /openapi.json: the eligibility and claims services' own documents,
fetched from them, merged, with the gateway's refusals; /docs served offline; an
unknown path's 404 points there."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from deploy.stack import free_port
from provider_data.api import claims, eligibility
from tests.gateway.conftest import Edge, Upstream, gateway
from tests.support.servers import serve
from tests.support.tokens import ISSUER, TestIssuer

PROBLEM_JSON = "application/problem+json"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def _describing(document: dict[str, Any]) -> Starlette:
    """An upstream answering the real service's own OpenAPI document."""

    async def openapi(request: Request) -> JSONResponse:
        return JSONResponse(document)

    return Starlette(routes=[Route("/openapi.json", openapi)])


@pytest.fixture
async def plan_edge() -> AsyncIterator[Edge]:
    documents = [eligibility.create_app().openapi(), claims.create_app().openapi()]
    async with (
        serve(_describing(documents[0])) as eligibility_url,
        serve(_describing(documents[1])) as claims_url,
        gateway(TestIssuer(), Upstream(), eligibility_url, claims_url=claims_url) as edge,
    ):
        yield edge


async def test_the_merged_document_describes_both_apis_as_the_gateway_serves_them(
    plan_edge: Edge,
) -> None:
    answer = await plan_edge.client.get("/openapi.json")
    assert answer.status_code == 200
    spec = answer.json()
    assert set(spec["paths"]) == {
        "/eligibility/v1/inquiries",
        "/eligibility/v1/inquiries/batch",
        "/eligibility/v1/providers",
        "/claims/v1/claims",
        "/claims/v1/claims/bulk",
        "/claims/v1/claims/{claim_number}",
        "/claims/v1/claims/{claim_number}/eob",
    }
    schemes = spec["components"]["securitySchemes"]
    assert schemes["clientCredentials"]["flows"]["clientCredentials"]["tokenUrl"] == (
        f"{ISSUER}/token"
    )
    code = schemes["authorizationCode"]["flows"]["authorizationCode"]
    assert code["authorizationUrl"] == f"{ISSUER}/authorize"
    assert set(code["scopes"]) == {"eligibility:read", "claims:read", "claims:write"}
    schemas = spec["components"]["schemas"]
    assert {"EligibilityAnswer", "ClaimIn", "Problem"} <= set(schemas)
    assert "HTTPValidationError" not in schemas
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert {"401", "403", "413", "422", "429", "502", "503", "504"} <= set(responses)
            assert operation["security"], (method, path)
            for status, response in responses.items():
                if status >= "400":
                    assert response["content"] == {PROBLEM_JSON: {"schema": PROBLEM_REF}}
    inquiry = spec["paths"]["/eligibility/v1/inquiries"]["post"]["responses"]["429"]
    assert "did not match" in inquiry["description"]  # the service's own 429 ...
    assert "network address" in inquiry["description"]  # ... and the gateway's


async def test_the_docs_page_and_its_files_come_from_the_gateway(plan_edge: Edge) -> None:
    page = await plan_edge.client.get("/docs")
    assert page.status_code == 200
    assert "/docs/assets/swagger-ui-bundle.js" in page.text and "cdn" not in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "init.js", "docs.css"):
        assert (await plan_edge.client.get(f"/docs/assets/{name}")).status_code == 200


async def test_an_unknown_path_points_to_the_docs(plan_edge: Edge) -> None:
    answer = await plan_edge.client.get("/nothing-here")
    assert answer.status_code == 404
    assert answer.headers["content-type"] == PROBLEM_JSON
    assert "/docs" in answer.json()["detail"]
    assert answer.json()["request_id"] == answer.headers["x-request-id"]


async def test_a_service_that_cannot_be_asked_is_a_503_problem() -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    async with gateway(TestIssuer(), Upstream(), dead) as edge:
        answer = await edge.client.get("/openapi.json")
    assert answer.status_code == 503
    assert answer.headers["content-type"] == PROBLEM_JSON
    assert answer.headers["retry-after"] == "5"
