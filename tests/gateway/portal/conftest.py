"""A gateway with its portal on, before a test issuer's JWKS (served over ASGI)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from gateway.app import create_app
from gateway.portal.sessions import MemorySessionStore
from gateway.settings import Settings
from policy import TokenVerifier
from tests.support.tokens import AUDIENCE, ISSUER, JWKS_URI, TestIssuer

CLIENT_ID = "cascade-portal"


@dataclass
class Portal:
    app: FastAPI
    issuer: TestIssuer
    client: httpx.AsyncClient

    @property
    def sessions(self) -> MemorySessionStore:
        store: MemorySessionStore = self.app.state.portal_sessions
        return store


@pytest.fixture
async def portal() -> AsyncIterator[Portal]:
    issuer = TestIssuer()
    settings = Settings(
        environment="test",
        issuer=ISSUER,
        audience=AUDIENCE,
        portal_client_id=CLIENT_ID,
        portal_client_secret="not-used-here",
        portal_base_url="http://portal.test",
    )
    async with issuer.http_client() as jwks_client, AsyncExitStack() as stack:
        verifier = TokenVerifier(ISSUER, AUDIENCE, JWKS_URI, http_client=jwks_client)
        app = create_app(settings, verifier=verifier)
        await stack.enter_async_context(app.router.lifespan_context(app))
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://portal.test"
        )
        await stack.enter_async_context(client)
        yield Portal(app, issuer, client)
