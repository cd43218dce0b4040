"""A gateway with its portal on, before a test issuer's JWKS (served over ASGI)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from deploy.stack import free_port
from gateway.app import create_app
from gateway.portal.sessions import MemorySessionStore
from gateway.settings import Settings
from policy import TokenVerifier
from tests.gateway.conftest import Upstream, running_upstream
from tests.support.tokens import AUDIENCE, ISSUER, JWKS_URI, TestIssuer

CLIENT_ID = "cascade-portal"


@dataclass
class Portal:
    app: FastAPI
    issuer: TestIssuer
    client: httpx.AsyncClient

    @property
    def cookie(self) -> str:
        """The plan's session cookie name (`portal_session_cascade_health_plan` here)."""
        name: str = self.app.state.settings.portal_cookie
        return name

    @property
    def sessions(self) -> MemorySessionStore:
        store: MemorySessionStore = self.app.state.portal_sessions
        return store


@asynccontextmanager
async def portal_before(
    upstream_url: str,
    issuer_url: str = ISSUER,
    base_url: str = "http://portal.test",
    **overrides: Any,
) -> AsyncIterator[Portal]:
    issuer = TestIssuer()
    settings = Settings(
        **{
            "environment": "test",
            "issuer": issuer_url,
            "audience": AUDIENCE,
            "eligibility_url": upstream_url,
            "claims_url": upstream_url,
            "upstream_timeout": 0.5,
            "portal_client_id": CLIENT_ID,
            "portal_client_secret": "not-used-here",
            "portal_base_url": base_url,
            **overrides,
        }
    )
    async with issuer.http_client() as jwks_client, AsyncExitStack() as stack:
        verifier = TokenVerifier(ISSUER, AUDIENCE, JWKS_URI, http_client=jwks_client)
        app = create_app(settings, verifier=verifier)
        await stack.enter_async_context(app.router.lifespan_context(app))
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)
        await stack.enter_async_context(client)
        yield Portal(app, issuer, client)


@pytest.fixture
async def portal() -> AsyncIterator[Portal]:
    """A portal whose plan services cannot be reached."""
    async with portal_before(f"http://127.0.0.1:{free_port()}") as running:
        yield running


@pytest.fixture
async def portal_and_upstream() -> AsyncIterator[tuple[Portal, Upstream]]:
    """A portal before one recording upstream standing in for eligibility and claims."""
    async with running_upstream() as (upstream, url), portal_before(url) as running:
        yield running, upstream
