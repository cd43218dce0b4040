"""A portal before the plan's real claims service (seeded demo database, served on a
loopback port), and sessions signed in as a biller, for the claim pages' tests."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread

from deploy.stack import free_port
from policy import TokenVerifier
from provider_data.api import claims
from provider_data.data.seed import seed_demo
from provider_data.platform.db import create_engine, migrate, session_factory
from tests.gateway.portal.conftest import Portal, portal_before
from tests.provider_data.conftest import plan_settings
from tests.support.databases import fresh_database
from tests.support.servers import serve
from tests.support.tokens import AUDIENCE, ISSUER, JWKS_URI

BILLER = {
    "username": "sam.biller",
    "name": "Sam Biller",
    "tax_ids": ["123456789", "987654321"],
    "orgs": [],
}


@asynccontextmanager
async def portal_before_claims(tmp: Path, **overrides: Any) -> AsyncIterator[Portal]:
    """The portal (over ASGI, or on a port with `base_url`) and the claims service
    (given the gateway's usual 10 s per read: the machine may be busy)."""
    port = free_port()
    options = {"upstream_timeout": 10.0, **overrides}
    async with (
        fresh_database("plan", tmp) as url,
        portal_before(f"http://127.0.0.1:{port}", **options) as portal,
        AsyncExitStack() as stack,
    ):
        await anyio.to_thread.run_sync(migrate, url)
        engine = create_engine(url)
        stack.push_async_callback(engine.dispose)
        async with session_factory(engine)() as session:
            await seed_demo(session)
            await session.commit()
        jwks = await stack.enter_async_context(portal.issuer.http_client())
        verifier = TokenVerifier(ISSUER, AUDIENCE, JWKS_URI, http_client=jwks)
        app = claims.create_app(plan_settings(url), verifier=verifier)
        await stack.enter_async_context(app.router.lifespan_context(app))
        await stack.enter_async_context(serve(app, port))
        yield portal


async def sign_in(portal: Portal, session_id: str, **claims: Any) -> None:
    """A portal session for the biller, its access token minted with `claims`."""
    token = portal.issuer.mint(tax_ids=BILLER["tax_ids"], **claims)
    tokens = {"access_token": token, "id_token": "id-1", "expires_at": time.time() + 300}
    data = {"sid": "sso-a", "sub": "u-1", "user": BILLER, "tokens": tokens, "csrf": "csrf-1"}
    await portal.sessions.save(session_id, data)
