"""CORS per origin: a listed origin gets the headers, any other origin gets none."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.gateway.conftest import Edge, gateway, running_upstream
from tests.support.tokens import TestIssuer

ALLOWED = "https://portal.acme.example"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


@pytest.fixture
async def cors_edge() -> AsyncIterator[Edge]:
    async with (
        running_upstream() as (upstream, url),
        gateway(
            TestIssuer(),
            upstream,
            url,
            cors_allowed_origins=[ALLOWED, "http://localhost:3000"],
            cors_max_age=120,
        ) as edge,
    ):
        yield edge


def cors_headers(headers: dict[str, str]) -> set[str]:
    return {name for name in headers if name.lower().startswith("access-control-")}


async def test_preflight_from_an_allowed_origin_gets_the_headers(cors_edge: Edge) -> None:
    response = await cors_edge.client.options(
        "/eligibility/v1/inquiries", headers={"Origin": ALLOWED, **PREFLIGHT}
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed_headers = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed_headers and "content-type" in allowed_headers
    assert response.headers["access-control-max-age"] == "120"
    assert "access-control-allow-credentials" not in response.headers
    assert cors_edge.upstream.seen == [], "a preflight is answered at the edge"


async def test_preflight_from_another_origin_gets_no_cors_headers(cors_edge: Edge) -> None:
    response = await cors_edge.client.options(
        "/eligibility/v1/inquiries", headers={"Origin": "https://evil.example", **PREFLIGHT}
    )
    assert response.status_code == 403
    assert cors_headers(dict(response.headers)) == set()
    assert response.json()["type"] == "https://tinpass.dev/problems/cors-origin-not-allowed"
    assert cors_edge.upstream.seen == []


async def test_actual_request_from_an_allowed_origin_exposes_headers(cors_edge: Edge) -> None:
    response = await cors_edge.client.get(
        "/claims/v1/claims", headers={"Origin": ALLOWED, **cors_edge.auth()}
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED
    exposed = response.headers["access-control-expose-headers"].lower()
    assert "x-request-id" in exposed and "retry-after" in exposed
    refused = await cors_edge.client.get("/claims/v1/claims", headers={"Origin": ALLOWED})
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == ALLOWED, "errors readable too"


async def test_actual_request_from_another_origin_gets_no_cors_headers(cors_edge: Edge) -> None:
    response = await cors_edge.client.get(
        "/claims/v1/claims",
        headers={"Origin": "https://portal.acme.example.evil", **cors_edge.auth()},
    )
    assert response.status_code == 200
    assert cors_headers(dict(response.headers)) == set()


async def test_no_origin_is_allowed_by_default(edge: Edge) -> None:
    preflight = await edge.client.options(
        "/claims/v1/claims", headers={"Origin": ALLOWED, **PREFLIGHT}
    )
    assert preflight.status_code == 403
    assert cors_headers(dict(preflight.headers)) == set()
    plain = await edge.client.get("/claims/v1/claims", headers={"Origin": ALLOWED, **edge.auth()})
    assert plain.status_code == 200
    assert cors_headers(dict(plain.headers)) == set()
