"""The edge: tokens checked before any upstream call, headers handled, failures bounded."""

from __future__ import annotations

import time
import uuid

from tests.gateway.conftest import Edge, gateway, running_upstream
from tests.support.tokens import TestIssuer


async def test_no_token_is_refused_without_calling_upstream(edge: Edge) -> None:
    response = await edge.client.get("/claims/v1/claims")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="tinpass"'
    assert response.headers["content-type"] == "application/problem+json"
    assert edge.upstream.seen == []


async def test_invalid_tokens_are_refused_at_the_edge(edge: Edge) -> None:
    now = int(time.time())
    for headers in (
        edge.auth(exp=now - 600, iat=now - 900),
        edge.auth(aud="another-api"),
        {"Authorization": "Bearer eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.e30."},
    ):
        response = await edge.client.get("/eligibility/v1/anything", headers=headers)
        assert response.status_code == 401
        assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert edge.upstream.seen == []


async def test_valid_request_is_forwarded_with_the_token(edge: Edge) -> None:
    headers = edge.auth()
    response = await edge.client.post(
        "/claims/v1/claims?status=paid", headers=headers, json={"a": 1}
    )
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    seen = edge.upstream.seen[0]
    assert (seen["method"], seen["path"], seen["query"]) == (
        "POST",
        "/claims/v1/claims",
        "status=paid",
    )
    assert seen["headers"]["authorization"] == headers["Authorization"]
    assert seen["body"] == b'{"a":1}'


async def test_spoofed_identity_headers_are_stripped(edge: Edge) -> None:
    spoofed = {
        "X-User-Id": "admin",
        "x-user-roles": "administrator",
        "X-Tax-Ids": "444444444",
        "X-Tax-Id": "444444444",
        "X-Org-Id": "other",
        "X-Principal-Sub": "user-2",
        "X-Authenticated-User": "admin",
        "X-Forwarded-User": "admin",
        "X-Remote-User": "admin",
        "Remote-User": "admin",
        "X-Client-Id": "acme-integrator",
    }
    headers = {**edge.auth(), **spoofed, "X-Trace": "kept"}
    response = await edge.client.get("/claims/v1/claims", headers=headers)
    assert response.status_code == 200
    forwarded = edge.upstream.seen[0]["headers"]
    assert not {name.lower() for name in spoofed} & forwarded.keys()
    assert forwarded["x-trace"] == "kept"
    assert forwarded["authorization"] == headers["Authorization"]


async def test_cookies_are_not_forwarded(edge: Edge) -> None:
    """The APIs take bearer tokens only; a browser's portal session cookie stays here."""
    headers = {**edge.auth(), "Cookie": "__Host-portal_session_cascade=secret-id; other=1"}
    response = await edge.client.get("/claims/v1/claims", headers=headers)
    assert response.status_code == 200
    assert "cookie" not in edge.upstream.seen[0]["headers"]


async def test_request_id_is_created_and_propagated(edge: Edge) -> None:
    created = await edge.client.get("/claims/v1/claims", headers=edge.auth())
    given = str(uuid.uuid4())
    passed = await edge.client.get(
        "/claims/v1/claims", headers={**edge.auth(), "X-Request-ID": given}
    )
    assert created.headers["x-request-id"] == edge.upstream.seen[0]["headers"]["x-request-id"]
    assert (
        passed.headers["x-request-id"] == given == edge.upstream.seen[1]["headers"]["x-request-id"]
    )


async def test_hop_by_hop_headers_are_not_forwarded(edge: Edge) -> None:
    headers = {
        **edge.auth(),
        "Connection": "x-private",
        "X-Private": "secret",
        "Keep-Alive": "timeout=5",
    }
    response = await edge.client.get("/claims/v1/claims", headers=headers)
    forwarded = edge.upstream.seen[0]["headers"]
    assert "x-private" not in forwarded and "keep-alive" not in forwarded
    assert "x-secret-hop" not in response.headers, "named by the upstream's Connection header"
    assert response.headers["x-upstream"] == "yes"


async def test_upstream_silent_past_the_read_timeout_is_504(edge: Edge) -> None:
    """The upstream never answers until the test ends: only the read timeout can end the wait."""
    response = await edge.client.get("/claims/v1/slow", headers=edge.auth())
    assert response.status_code == 504
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "https://tinpass.dev/problems/upstream-timeout"
    assert response.json()["request_id"] == response.headers["x-request-id"]
    assert [seen["path"] for seen in edge.upstream.seen] == ["/claims/v1/slow"]


async def test_upstream_trickling_past_the_deadline_is_504() -> None:
    """Bytes keep coming (no read timeout fires): the deadline on the whole exchange ends it."""
    async with (
        running_upstream() as (upstream, url),
        gateway(TestIssuer(), upstream, url, upstream_timeout=30.0, upstream_deadline=0.3) as edge,
    ):
        response = await edge.client.get("/eligibility/v1/trickle", headers=edge.auth())
        assert response.status_code == 504
        assert response.json()["type"] == "https://tinpass.dev/problems/upstream-timeout"
        assert upstream.seen[0]["path"] == "/eligibility/v1/trickle"


async def test_down_upstream_is_502(edge_without_upstream: Edge) -> None:
    response = await edge_without_upstream.client.get(
        "/claims/v1/claims", headers=edge_without_upstream.auth()
    )
    assert response.status_code == 502
    assert response.headers["content-type"] == "application/problem+json"


async def test_too_large_body_is_413(edge: Edge) -> None:
    response = await edge.client.post("/claims/v1/claims", headers=edge.auth(), content=b"x" * 2048)
    assert response.status_code == 413
    assert edge.upstream.seen == []


async def test_health(edge: Edge, edge_without_upstream: Edge) -> None:
    """Alive whatever its upstreams do (readiness: tests/gateway/test_readiness.py)."""
    assert (await edge.client.get("/healthz")).json() == {"status": "ok"}
    assert (await edge_without_upstream.client.get("/healthz")).json() == {"status": "ok"}
