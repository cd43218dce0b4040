"""The gateway of a plan accepts only tokens for that plan's APIs (RFC 8707): a token
minted for Summit Health Plan is refused at Cascade's edge, without an upstream call."""

from __future__ import annotations

from tests.gateway.conftest import Edge
from tests.support.tokens import AUDIENCE, SUMMIT_AUDIENCE


async def test_a_token_for_another_plan_is_refused_at_the_edge(edge: Edge) -> None:
    for aud in (SUMMIT_AUDIENCE, [SUMMIT_AUDIENCE, "https://id.tinpass.test"]):
        response = await edge.client.get("/claims/v1/claims", headers=edge.auth(aud=aud))
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert 'error="invalid_token"' in response.headers["www-authenticate"]
        assert "another audience" in response.json()["detail"]
    assert edge.upstream.seen == []
    own = await edge.client.get("/claims/v1/claims", headers=edge.auth(aud=AUDIENCE))
    assert own.status_code == 200
