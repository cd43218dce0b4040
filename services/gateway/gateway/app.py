"""The plan's edge: token check, routing to eligibility and claims, request ids.

Every request to an API route needs a valid bearer token (verified with
libs/policy against the cached JWKS) before any upstream call. Upstreams are
reached over one pooled HTTP client with timeouts; a failing upstream answers
502, a slow one 504, as RFC 9457 problems. Requests are counted per source
address and per client (`gateway.ratelimit`), and browser origins are checked
(`gateway.cors`). Run with `uvicorn --factory gateway.app:create_app --no-proxy-headers`
(forwarded headers are trusted only from the configured proxies, policy.forwarded).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI, Request
from starlette.responses import Response

from gateway import cors, portal, proxy, ratelimit
from gateway.portal.redis_sessions import RedisSessionStore
from gateway.problems import problem_response as _problem
from gateway.settings import Settings
from gateway.upstream import build_client
from policy import InvalidToken, JWKSUnavailable, TokenVerifier, forwarded, inputs
from policy.boundary import InputGuard
from policy.fastjson import FastJSONResponse
from policy.rfc6750 import bearer_token, www_authenticate

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


class BodyTooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise BodyTooLarge
    return bytes(body)


async def forward(request: Request, service: str) -> Response:
    """Verify the token at the edge, then pass the request to the named upstream."""
    settings: Settings = request.app.state.settings
    request_id = inputs.request_id(request.headers.get("x-request-id"))
    if refused := await ratelimit.refusal(request, request_id):
        return refused
    try:
        principal = await request.app.state.verifier.verify(
            bearer_token(request.headers.get("authorization"))
        )
    except InvalidToken as error:
        silent = error.error == "invalid_request"
        challenge = www_authenticate(
            None if silent else error.error, None if silent else error.description
        )
        return _problem(
            401,
            "Authentication required",
            error.description,
            "unauthorized",
            request_id,
            **{"WWW-Authenticate": challenge},
        )
    try:
        body = await _read_body(request, settings.max_body_bytes)
    except BodyTooLarge:
        return _problem(
            413,
            "Request too large",
            f"The body may be at most {settings.max_body_bytes} bytes.",
            "request-too-large",
            request_id,
        )
    cost = ratelimit.cost_of(request, body)  # a batch of N inquiries counts N
    if refused := await ratelimit.refusal(request, request_id, principal, cost):
        return refused
    return await _send(request, request.app.state.upstreams[service], body, request_id)


async def _send(request: Request, base: httpx.URL, body: bytes, request_id: str) -> Response:
    upstream = base.copy_with(path=request.url.path, query=request.scope["query_string"])
    try:
        async with asyncio.timeout(request.app.state.settings.upstream_deadline):
            reply = await request.app.state.upstream.request(
                request.method,
                upstream,
                content=body,
                headers=proxy.request_headers(request.headers.items(), request_id),
            )
    except (httpx.TimeoutException, TimeoutError):
        return _problem(
            504,
            "Upstream timed out",
            "The plan's service did not answer in time. Try again shortly.",
            "upstream-timeout",
            request_id,
        )
    except httpx.TransportError:
        return _problem(
            502,
            "Upstream unavailable",
            "The plan's service cannot be reached. Try again shortly.",
            "upstream-unavailable",
            request_id,
        )
    headers: dict[str, Any] = dict(proxy.response_headers(reply.headers.multi_items()))
    headers["X-Request-ID"] = request_id
    return Response(content=reply.content, status_code=reply.status_code, headers=headers)


router = APIRouter()


@router.api_route("/eligibility/{path:path}", methods=METHODS)
async def eligibility(request: Request, path: str) -> Response:
    return await forward(request, "eligibility")


@router.api_route("/claims/{path:path}", methods=METHODS)
async def claims(request: Request, path: str) -> Response:
    return await forward(request, "claims")


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> FastJSONResponse:
    """Ready when the issuer's keys are loaded and every upstream answers /healthz."""
    checks = {"jwks": "ok" if request.app.state.verifier.jwks_loaded else "not loaded"}
    for name, base in request.app.state.upstreams.items():
        try:
            reply = await request.app.state.upstream.get(httpx.URL(base).join("/healthz"))
            checks[name] = "ok" if reply.status_code == 200 else f"status {reply.status_code}"
        except httpx.HTTPError:
            checks[name] = "unreachable"
    ready = all(v == "ok" for v in checks.values())
    return FastJSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )


def create_app(
    settings: Settings | None = None,
    *,
    http_client: httpx.AsyncClient | None = None,
    verifier: TokenVerifier | None = None,
) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = http_client or build_client(settings)
        app.state.settings = settings
        app.state.rate_limits = ratelimit.RateLimits.from_settings(settings)
        app.state.upstream = client
        app.state.upstreams = {  # parsed once; a request's path and query replace theirs
            "eligibility": httpx.URL(settings.eligibility_url),
            "claims": httpx.URL(settings.claims_url),
        }
        app.state.verifier = verifier or TokenVerifier(
            settings.issuer,
            settings.audience,
            settings.jwks_uri,
            refresh_interval=settings.jwks_refresh_interval,
        )
        with contextlib.suppress(JWKSUnavailable):
            await app.state.verifier.prime()
        try:
            yield
        finally:
            if http_client is None:
                await client.aclose()
            if verifier is None:
                await app.state.verifier.aclose()
            else:
                await app.state.verifier.stop()
            await app.state.rate_limits.aclose()
            sessions = getattr(app.state, "portal_sessions", None)
            if isinstance(sessions, RedisSessionStore):
                await sessions.aclose()

    app = FastAPI(title="TINpass gateway", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.include_router(router)
    if settings.portal_enabled:
        portal.install(app, settings)
    cors.install(app, settings)
    app.add_middleware(InputGuard, check_headers=True)
    forwarded.install(app, settings.trusted_proxies)
    return app
