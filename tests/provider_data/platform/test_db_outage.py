"""The eligibility and claims apps, and the gateway in front of them, with the plan's
database hanging, refusing or dropping connections (a TCP proxy between the apps and
PostgreSQL): each answers a 503 problem with Retry-After within the short timeouts
set here, the gateway passes that problem on (never a 502), /readyz says not ready,
each failure is logged in one line; then the proxy passes again and all recover."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import anyio.to_thread
import httpx
import pytest
from fastapi import FastAPI

from policy import TokenVerifier
from provider_data.api import claims, eligibility
from provider_data.data.seed import seed_demo
from provider_data.platform.db import create_engine, migrate, session_factory
from provider_data.platform.settings import Settings
from tests.gateway.conftest import Edge, Upstream, gateway
from tests.support.databases import db_kind, fresh_database
from tests.support.dbfaults import (
    SHORT_TIMEOUTS,
    assert_not_ready,
    assert_one_line_per_failure,
    assert_problem_503,
    cut_noticed,
    holding_a_connection,
    server_proxy,
    through,
)
from tests.support.faultproxy import FaultProxy
from tests.support.servers import serve
from tests.support.tokens import AUDIENCE, ISSUER, JWKS_URI, TestIssuer

pytestmark = pytest.mark.skipif(
    db_kind() != "postgresql", reason="network faults between the apps and a PostgreSQL server"
)
INQUIRY = {"member_id": "M1000101", "date_of_birth": "1985-04-12"}


@dataclass
class Stack:
    proxy: FaultProxy
    eligibility: httpx.AsyncClient
    claims: httpx.AsyncClient
    edge: Edge
    apps: list[FastAPI]

    def auth(self) -> dict[str, str]:
        return self.edge.auth()

    async def calls(self) -> list[httpx.Response]:
        """Each app directly, then through the gateway."""
        auth = self.auth()
        return list(
            await asyncio.gather(
                self.eligibility.post("/eligibility/v1/inquiries", json=INQUIRY, headers=auth),
                self.claims.get("/claims/v1/claims", headers=auth),
                self.edge.client.post("/eligibility/v1/inquiries", json=INQUIRY, headers=auth),
                self.edge.client.get("/claims/v1/claims", headers=auth),
            )
        )

    async def readiness(self) -> list[httpx.Response]:
        return list(
            await asyncio.gather(self.eligibility.get("/readyz"), self.claims.get("/readyz"))
        )


async def _served(stack: AsyncExitStack, app: FastAPI) -> httpx.AsyncClient:
    await stack.enter_async_context(app.router.lifespan_context(app))
    url = await stack.enter_async_context(serve(app))
    return await stack.enter_async_context(httpx.AsyncClient(base_url=url))


@pytest.fixture
async def plan_stack(tmp_path: Path) -> AsyncIterator[Stack]:
    issuer = TestIssuer()
    async with fresh_database("plan", tmp_path) as url, AsyncExitStack() as stack:
        await anyio.to_thread.run_sync(migrate, url)
        engine = create_engine(url)
        async with session_factory(engine)() as session:
            await seed_demo(session)
            await session.commit()
        await engine.dispose()
        proxy = stack.enter_context(server_proxy())
        settings = Settings(
            environment="test",
            database_url=through(proxy, url),
            issuer=ISSUER,
            audience=AUDIENCE,
            **SHORT_TIMEOUTS,
        )
        jwks = await stack.enter_async_context(issuer.http_client())
        verifier = TokenVerifier(ISSUER, AUDIENCE, JWKS_URI, http_client=jwks)
        apps = [
            make(settings, verifier=verifier)
            for make in (eligibility.create_app, claims.create_app)
        ]
        clients = [await _served(stack, app) for app in apps]
        edge = await stack.enter_async_context(
            gateway(
                issuer,
                Upstream(),
                str(clients[0].base_url),
                claims_url=str(clients[1].base_url).rstrip("/"),
                eligibility_url=str(clients[0].base_url).rstrip("/"),
                upstream_timeout=5.0,
                portal_client_id="cascade-portal",  # the plan's portal too
                portal_client_secret="not-used-here",
                portal_base_url="http://gateway.test",
            )
        )
        yield Stack(proxy, clients[0], clients[1], edge, apps)


async def signed_in_to_the_portal(stack: Stack) -> httpx.AsyncClient:
    """The gateway's portal with a signed-in person (the session as sign-in leaves it)."""
    gateway_app = cast(httpx.ASGITransport, stack.edge.client._transport).app
    token = stack.edge.issuer.mint()
    user = {"username": "sam.biller", "name": "Sam Biller", "tax_ids": ["123456789"], "orgs": []}
    tokens = {"access_token": token, "id_token": "id-1", "expires_at": time.time() + 300}
    data = {"sid": "sso-a", "sub": "u-1", "user": user, "tokens": tokens, "csrf": "csrf-1"}
    await gateway_app.state.portal_sessions.save("sess-1", data)  # type: ignore[attr-defined]
    cookie = gateway_app.state.settings.portal_cookie  # type: ignore[attr-defined]
    stack.edge.client.cookies.set(cookie, "sess-1", domain="gateway.test", path="/")
    return stack.edge.client


def assert_up(answers: list[httpx.Response]) -> None:
    for answer in answers:
        assert answer.status_code == 200, answer.text


def assert_down(answers: list[httpx.Response]) -> None:
    for answer in answers:
        assert_problem_503(answer)
    through_gateway = answers[2:]
    assert all(answer.json()["request_id"] for answer in through_gateway)


async def test_hanging_refusing_and_cut_database(
    plan_stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    stack = plan_stack
    portal = await signed_in_to_the_portal(stack)
    assert_up(await stack.calls())
    assert_up(await stack.readiness())
    assert (await portal.get("/portal/claims")).status_code == 200
    with caplog.at_level(logging.WARNING):
        for mode in ("blackhole", "refuse"):
            stack.proxy.mode = mode
            assert_down(await asyncio.wait_for(stack.calls(), 10))
            for ready in await asyncio.wait_for(stack.readiness(), 10):
                assert assert_not_ready(ready)["database"] == "unreachable"
            page = await asyncio.wait_for(portal.get("/portal/claims"), 10)
            assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
            assert int(page.headers["retry-after"]) > 0 and "try again" in page.text
        # 5 requests reach an app (2 directly, 2 through the gateway, 1 from the portal)
        # and 2 readiness checks, per mode; the gateway passes the apps' answers on
        assert_one_line_per_failure(caplog, 14)
    stack.proxy.mode = "pass"
    assert_up(await stack.calls())  # recovered, no restart
    assert (await portal.get("/portal/claims")).status_code == 200
    assert_up(await stack.readiness())

    caplog.clear()
    engine = stack.apps[1].state.sessionmaker.kw["bind"]
    with caplog.at_level(logging.WARNING):
        stack.proxy.cut()  # idle connections dropped: replaced, nothing fails
        for app in stack.apps:
            await cut_noticed(app.state.sessionmaker.kw["bind"])
        assert_up(await stack.calls())
        stack.proxy.mode = "blackhole"  # a claims search waits on the database, then the cut
        search = stack.edge.client.get("/claims/v1/claims", headers=stack.auth())
        asking = asyncio.ensure_future(search)
        await holding_a_connection(engine)
        stack.proxy.cut()  # the request's connection is gone (or it hangs: a new one)
        assert_problem_503(await asyncio.wait_for(asking, 5))
        stack.proxy.mode = "pass"
        assert_one_line_per_failure(caplog, 1)
    assert_up(await stack.calls())
