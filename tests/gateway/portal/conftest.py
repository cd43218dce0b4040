"""A gateway with its portal on, before a test issuer's JWKS (served over ASGI)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import httpx
import pytest
from fastapi import FastAPI

from deploy.stack import free_port
from gateway.app import create_app
from gateway.portal.sessions import MemorySessionStore
from gateway.settings import Settings
from policy import TokenVerifier
from provider_data.api import claims, eligibility
from provider_data.data.seed import seed_demo
from provider_data.platform.db import create_engine, migrate, session_factory
from tests.gateway.conftest import Upstream, running_upstream
from tests.provider_data.conftest import plan_settings
from tests.support.databases import fresh_database
from tests.support.servers import serve
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
    issuer: TestIssuer | None = None,
    **overrides: Any,
) -> AsyncIterator[Portal]:
    issuer = issuer or TestIssuer()
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


@dataclass
class Plan:
    """The plan's real eligibility and claims services on loopback ports, on a migrated
    database with the demo data, trusting `issuer`'s tokens."""

    issuer: TestIssuer
    eligibility_url: str
    claims_url: str


@asynccontextmanager
async def running_plan(tmp: Any) -> AsyncIterator[Plan]:
    issuer = TestIssuer()
    async with fresh_database("plan", tmp) as url, AsyncExitStack() as stack:
        await anyio.to_thread.run_sync(migrate, url)
        engine = create_engine(url)
        stack.push_async_callback(engine.dispose)
        async with session_factory(engine)() as session:
            await seed_demo(session)
            await session.commit()
        jwks_client = await stack.enter_async_context(issuer.http_client())
        verifier = TokenVerifier(ISSUER, AUDIENCE, JWKS_URI, http_client=jwks_client)
        urls = []
        for factory in (eligibility.create_app, claims.create_app):
            app = factory(plan_settings(url), verifier=verifier)
            await stack.enter_async_context(app.router.lifespan_context(app))
            urls.append(await stack.enter_async_context(serve(app)))
        yield Plan(issuer, *urls)


@pytest.fixture(scope="package")
async def plan(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Plan]:
    """One plan for the portal's tests that read real answers (few inquiries fail to
    match in all: far under the plan's failed-match limits)."""
    async with running_plan(tmp_path_factory.mktemp("plan")) as running:
        yield running


@pytest.fixture
async def portal_on_plan(plan: Plan) -> AsyncIterator[Portal]:
    """A portal before the plan's real services (one per test: its own sessions)."""
    async with portal_before(
        plan.eligibility_url, issuer=plan.issuer, claims_url=plan.claims_url, upstream_timeout=10.0
    ) as running:
        yield running
