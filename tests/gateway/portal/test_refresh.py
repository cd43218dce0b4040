"""An access token about to expire is refreshed with the refresh token (Authlib);
a refused refresh means the SSO session ended, so the portal session ends too.

A stand-in authorization server on a real port answers discovery and the token
endpoint, as tests/support/tokens.py stands in for identity's JWKS.
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.gateway.conftest import Upstream, running_upstream
from tests.gateway.portal.conftest import CLIENT_ID, Portal, portal_before
from tests.support.servers import serve

USER = {"username": "sam.biller", "name": "Sam Biller", "tax_ids": ["123456789"], "orgs": []}


class TokenEndpoint:
    def __init__(self, *, refuse: bool = False) -> None:
        self.refuse, self.url, self.fresh_access_token = refuse, "", ""
        self.requests: list[dict[str, Any]] = []
        self.app = Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/token", self.token, methods=["POST"]),
            ]
        )

    async def discovery(self, request: Request) -> JSONResponse:
        return JSONResponse({"issuer": self.url, "token_endpoint": self.url + "/token"})

    async def token(self, request: Request) -> JSONResponse:
        form = dict(await request.form())
        self.requests.append({"form": form, "authorization": request.headers["authorization"]})
        if self.refuse:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        return JSONResponse(
            {
                "access_token": self.fresh_access_token,
                "refresh_token": "refresh-2",
                "token_type": "Bearer",
                "expires_in": 300,
            }
        )


@asynccontextmanager
async def portal_with(endpoint: TokenEndpoint) -> AsyncIterator[tuple[Portal, Upstream]]:
    async with serve(endpoint.app) as url, running_upstream() as (upstream, upstream_url):
        endpoint.url = url
        async with portal_before(upstream_url, issuer_url=url) as portal:
            endpoint.fresh_access_token = portal.issuer.mint()
            yield portal, upstream


async def expiring_session(portal: Portal) -> None:
    tokens = {
        "access_token": "old-access",
        "refresh_token": "refresh-1",
        "id_token": "id-1",
        "expires_at": time.time() + 5,
    }
    await portal.sessions.save("sess-1", {"sid": "sso-a", "user": USER, "tokens": tokens})
    portal.client.cookies.set(portal.cookie, "sess-1", domain="portal.test", path="/portal")


async def test_an_expiring_access_token_is_refreshed_before_the_call() -> None:
    endpoint = TokenEndpoint()
    async with portal_with(endpoint) as (portal, upstream):
        await expiring_session(portal)
        page = await portal.client.get("/portal/claims")
        stored = await portal.sessions.load("sess-1")
    assert page.status_code == 200
    (refresh,) = endpoint.requests
    assert refresh["form"]["grant_type"] == "refresh_token"
    assert refresh["form"]["refresh_token"] == "refresh-1"
    secret = base64.b64decode(refresh["authorization"].split()[1]).decode()
    assert secret == f"{CLIENT_ID}:not-used-here"
    assert upstream.seen[0]["headers"]["authorization"] == f"Bearer {endpoint.fresh_access_token}"
    assert stored is not None
    assert stored["tokens"]["refresh_token"] == "refresh-2"
    assert stored["tokens"]["id_token"] == "id-1"


async def test_a_refused_refresh_ends_the_portal_session() -> None:
    endpoint = TokenEndpoint(refuse=True)
    async with portal_with(endpoint) as (portal, upstream):
        await expiring_session(portal)
        page = await portal.client.get("/portal/claims")
        assert await portal.sessions.load("sess-1") is None
    assert page.status_code == 401
    assert "session has ended" in page.text
    assert upstream.seen == []
