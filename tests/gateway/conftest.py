"""A gateway in front of recording upstreams served on real ports."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from deploy.stack import free_port
from gateway.app import create_app
from gateway.settings import Settings
from policy import TokenVerifier
from tests.support.servers import serve
from tests.support.tokens import AUDIENCE, ISSUER, JWKS_URI, TestIssuer


@dataclass
class Upstream:
    seen: list[dict[str, Any]] = field(default_factory=list)

    async def record(self, request: Request) -> Response:
        if request.url.path.endswith("/slow"):
            await asyncio.sleep(1)
        self.seen.append(
            {
                "method": request.method,
                "path": request.url.path,
                "query": request.url.query,
                "headers": dict(request.headers),
                "body": await request.body(),
            }
        )
        return JSONResponse(
            {"ok": True},
            headers={"Connection": "x-secret-hop", "X-Secret-Hop": "1", "X-Upstream": "yes"},
        )

    def app(self) -> Starlette:
        return Starlette(
            routes=[Route("/{path:path}", self.record, methods=["GET", "POST", "PUT", "DELETE"])]
        )


@dataclass
class Edge:
    issuer: TestIssuer
    upstream: Upstream
    client: httpx.AsyncClient

    def auth(self, **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issuer.mint(**claims)}"}


@pytest.fixture
async def edge() -> AsyncIterator[Edge]:
    issuer, upstream = TestIssuer(), Upstream()
    async with serve(upstream.app()) as url, issuer.http_client() as jwks_client:
        settings = Settings(
            environment="test",
            issuer=ISSUER,
            audience=AUDIENCE,
            eligibility_url=url,
            claims_url=url,
            upstream_timeout=0.5,
            max_body_bytes=1024,
        )
        verifier = TokenVerifier(ISSUER, AUDIENCE, JWKS_URI, http_client=jwks_client)
        app = create_app(settings, verifier=verifier)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
            ) as client,
        ):
            yield Edge(issuer, upstream, client)


@pytest.fixture
async def edge_without_upstream() -> AsyncIterator[Edge]:
    issuer = TestIssuer()
    dead = f"http://127.0.0.1:{free_port()}"
    async with issuer.http_client() as jwks_client:
        settings = Settings(
            environment="test",
            issuer=ISSUER,
            audience=AUDIENCE,
            eligibility_url=dead,
            claims_url=dead,
        )
        app = create_app(
            settings, verifier=TokenVerifier(ISSUER, AUDIENCE, JWKS_URI, http_client=jwks_client)
        )
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
            ) as client,
        ):
            yield Edge(issuer, Upstream(), client)
