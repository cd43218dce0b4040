"""Gateways in front of recording upstreams served on real ports."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from deploy.stack import free_port
from gateway.app import create_app
from gateway.settings import Settings
from policy import TokenVerifier
from tests.support.servers import serve
from tests.support.tokens import AUDIENCE, ISSUER, JWKS_URI, TestIssuer


@dataclass
class Upstream:
    """Records every request it answers; /slow and /trickle hold on until released."""

    seen: list[dict[str, Any]] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)  # set by the first request

    async def record(self, request: Request) -> Response:
        self.seen.append(
            {
                "method": request.method,
                "path": request.url.path,
                "query": request.url.query,
                "headers": dict(request.headers),
                "body": await request.body(),
                "peer": request.client.port if request.client else None,
            }
        )
        self.arrived.set()
        if request.url.path.endswith("/slow"):
            await self.release.wait()
        if request.url.path.endswith("/trickle"):
            return StreamingResponse(self._trickle(), media_type="text/plain")
        return JSONResponse(
            {"ok": True},
            headers={"Connection": "x-secret-hop", "X-Secret-Hop": "1", "X-Upstream": "yes"},
        )

    async def _trickle(self) -> AsyncIterator[bytes]:
        """A byte every 20 ms until released: never idle long enough for a read timeout."""
        while not self.release.is_set():
            yield b"."
            await asyncio.sleep(0.02)

    def app(self) -> Starlette:
        return Starlette(
            routes=[Route("/{path:path}", self.record, methods=["GET", "POST", "PUT", "DELETE"])]
        )


@dataclass
class Edge:
    issuer: TestIssuer
    upstream: Upstream
    client: httpx.AsyncClient
    app: FastAPI | None = None

    def auth(self, **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issuer.mint(**claims)}"}


@asynccontextmanager
async def running_upstream() -> AsyncIterator[tuple[Upstream, str]]:
    upstream = Upstream()
    async with serve(upstream.app()) as url:
        try:
            yield upstream, url
        finally:
            upstream.release.set()


@asynccontextmanager
async def gateway(
    issuer: TestIssuer,
    upstream: Upstream,
    upstream_url: str,
    *,
    client_address: tuple[str, int] = ("127.0.0.1", 50000),
    on_port: bool = False,
    **overrides: Any,
) -> AsyncIterator[Edge]:
    """One gateway app (own lifespan, own rate-limit storage) before the given upstream.

    Reached over an ASGI transport from `client_address`, or, `on_port`, served by
    uvicorn on a real loopback port (the source address is then the socket's).
    """
    options: dict[str, Any] = {
        "environment": "test",
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "eligibility_url": upstream_url,
        "claims_url": upstream_url,
        "upstream_timeout": 0.5,
        "max_body_bytes": 1024,
        **overrides,
    }
    settings = Settings(**options)
    async with issuer.http_client() as jwks_client:
        verifier = TokenVerifier(ISSUER, AUDIENCE, JWKS_URI, http_client=jwks_client)
        app = create_app(settings, verifier=verifier)
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(app.router.lifespan_context(app))
            if on_port:
                url = await stack.enter_async_context(serve(app))
                client = httpx.AsyncClient(base_url=url)
            else:
                transport = httpx.ASGITransport(app=app, client=client_address)
                client = httpx.AsyncClient(transport=transport, base_url="http://gateway.test")
            await stack.enter_async_context(client)
            yield Edge(issuer, upstream, client, app)


@pytest.fixture
async def edge() -> AsyncIterator[Edge]:
    async with running_upstream() as (upstream, url), gateway(TestIssuer(), upstream, url) as edge:
        yield edge


@pytest.fixture
async def edge_without_upstream() -> AsyncIterator[Edge]:
    dead = f"http://127.0.0.1:{free_port()}"
    async with gateway(TestIssuer(), Upstream(), dead, upstream_timeout=10.0) as edge:
        yield edge
