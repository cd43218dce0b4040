"""The gateway's readiness is its own ability to serve: the issuer's keys. Upstreams and
the portal's session store are reported, never failing it: a plan service or Redis down
is down for every replica alike and must not take them all out of the load balancer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from deploy.stack import free_port
from gateway.app import create_app
from gateway.settings import Settings
from policy import TokenVerifier
from tests.gateway.conftest import Edge, gateway, running_upstream
from tests.gateway.portal.conftest import portal_before
from tests.support.faultproxy import FaultProxy
from tests.support.redis import require_redis
from tests.support.servers import serve
from tests.support.tokens import AUDIENCE, ISSUER, TestIssuer


async def test_ready_with_its_keys_and_upstreams_answering(edge: Edge) -> None:
    ready = await edge.client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {
        "status": "ok",
        "checks": {"jwks": "ok"},
        "upstreams": {"eligibility": "ok", "claims": "ok"},
    }


async def test_an_upstream_down_is_reported_but_the_gateway_stays_ready(
    edge_without_upstream: Edge,
) -> None:
    ready = await edge_without_upstream.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"jwks": "ok"}
    assert ready.json()["upstreams"] == {"eligibility": "unreachable", "claims": "unreachable"}


async def test_a_hanging_upstream_is_reported_as_a_timeout() -> None:
    """The upstream accepts connections and never answers: the probe gives up on it
    (within PROBE_SECONDS, not the upstream deadline) and the gateway is ready."""
    async with running_upstream() as (upstream, url):
        port = int(url.rsplit(":", 1)[1])
        with FaultProxy("127.0.0.1", port) as proxy:
            proxy.mode = "blackhole"
            slow = f"http://127.0.0.1:{proxy.port}"
            async with gateway(
                TestIssuer(), upstream, slow, upstream_timeout=30.0, upstream_deadline=30.0
            ) as edge:
                ready = await edge.client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["upstreams"] == {"eligibility": "timeout", "claims": "timeout"}


class Keys:
    """The issuer's JWKS on a real port: 503 until `published`."""

    def __init__(self, issuer: TestIssuer) -> None:
        self.issuer, self.published = issuer, False
        self.app = Starlette(routes=[Route("/jwks.json", self.jwks)])

    async def jwks(self, request: Request) -> JSONResponse:
        if not self.published:
            return JSONResponse({"error": "down"}, status_code=503)
        return JSONResponse({"keys": [k.as_dict(private=False) for k in self.issuer.published]})


@asynccontextmanager
async def gateway_before(keys: Keys) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway whose issuer's JWKS is served by `keys`."""
    async with (
        running_upstream() as (_, url),
        serve(keys.app) as keys_url,
        AsyncExitStack() as stack,
    ):
        settings = Settings(
            environment="test",
            issuer=ISSUER,
            audience=AUDIENCE,
            eligibility_url=url,
            claims_url=url,
        )
        verifier = TokenVerifier(ISSUER, AUDIENCE, keys_url + "/jwks.json")
        stack.push_async_callback(verifier.aclose)
        app = create_app(settings, verifier=verifier)
        await stack.enter_async_context(app.router.lifespan_context(app))
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g.test")
        yield await stack.enter_async_context(client)


async def test_without_the_issuers_keys_it_is_not_ready_until_it_gets_them() -> None:
    """Identity down when the gateway started: not ready; identity back: ready at the
    next probe (the keys fetched then, not at the next scheduled refresh)."""
    keys = Keys(TestIssuer())
    async with gateway_before(keys) as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        body: dict[str, Any] = ready.json()
        assert body["status"] == "unavailable" and body["checks"] == {"jwks": "not loaded"}
        assert body["upstreams"] == {"eligibility": "ok", "claims": "ok"}
        keys.published = True
        again = await client.get("/readyz")
        assert again.status_code == 200 and again.json()["checks"] == {"jwks": "ok"}


async def test_the_portals_memory_store_is_ready() -> None:
    async with portal_before(f"http://127.0.0.1:{free_port()}") as portal:
        ready = await portal.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"jwks": "ok"}
    assert ready.json()["portal_sessions"] == "ok"


async def test_the_portals_redis_store_down_is_reported_not_unready() -> None:
    await require_redis()
    with FaultProxy("127.0.0.1", 6379) as proxy:
        store_url = f"redis://127.0.0.1:{proxy.port}/0"
        async with portal_before(
            f"http://127.0.0.1:{free_port()}", portal_session_store_url=store_url
        ) as portal:
            up = await portal.client.get("/readyz")
            assert up.status_code == 200 and up.json()["portal_sessions"] == "ok"
            proxy.mode = "refuse"
            down = await portal.client.get("/readyz")
            assert down.status_code == 200, down.text
            assert down.json()["portal_sessions"] == "unreachable"
            proxy.mode = "blackhole"
            hanging = await portal.client.get("/readyz")
            assert hanging.status_code == 200, hanging.text
            assert hanging.json()["portal_sessions"] in ("timeout", "unreachable")
            proxy.cut()
            proxy.mode = "pass"
            back = await portal.client.get("/readyz")
            assert back.status_code == 200 and back.json()["portal_sessions"] == "ok"
