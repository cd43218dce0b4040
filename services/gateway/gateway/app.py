"""The plan's edge: token check, routing to eligibility and claims, request ids.

Every request to an API route needs a valid bearer token (verified with
libs/policy against the cached JWKS) before any upstream call. Upstreams are
reached over a keep-alive connection pool per upstream (`gateway.upstream`) with
timeouts; a failing upstream answers 502, a slow one 504, one whose pool stays
full 503 with Retry-After, as RFC 9457 problems. Requests are counted per source
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
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from gateway import apidocs, cors, portal, proxy, ratelimit
from gateway.portal.redis_sessions import RedisSessionStore
from gateway.portal.sessions import SessionStore
from gateway.problems import problem_response as _problem
from gateway.settings import Settings
from gateway.upstream import (
    Pool,
    UpstreamBusy,
    UpstreamError,
    Upstreams,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from policy import (
    InvalidToken,
    JWKSUnavailable,
    TokenVerifier,
    forwarded,
    heap,
    logs,
    metrics,
    outages,
    tracing,
)
from policy.boundary import InputGuard
from policy.fastjson import FastJSONResponse
from policy.observability import identify
from policy.rfc6750 import bearer_token, www_authenticate

# Readiness answers within this (a probe's default timeout is 1 s), whatever it waits on.
PROBE_SECONDS = 0.5
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
    request_id: str = request.state.request_id  # policy.observability
    if refused := await ratelimit.refusal(request, request_id):
        return refused
    try:
        principal = await request.app.state.verifier.verify(
            bearer_token(request.headers.get("authorization"))
        )
        identify(request.scope, principal.client_id, principal.org_id)
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


async def _send(request: Request, pool: Pool, body: bytes, request_id: str) -> Response:
    scope = request.scope
    target = scope.get("raw_path") or quote(scope["path"]).encode()  # as the client sent it
    if scope["query_string"]:
        target += b"?" + scope["query_string"]
    settings: Settings = request.app.state.settings
    try:
        reply = await pool.exchange(
            request.method,
            target.decode("latin-1"),
            proxy.request_headers(request.headers.items(), request_id),
            body,
            settings.upstream_deadline,
        )
    except UpstreamBusy:
        metrics.UPSTREAM_ERRORS(pool.name, "busy").inc()
        return _problem(
            503,
            "Upstream busy",
            "The plan's service is answering as many requests as it may. Try again shortly.",
            "upstream-busy",
            request_id,
            **{"Retry-After": str(settings.pool_retry_after)},
        )
    except UpstreamTimeout:
        metrics.UPSTREAM_ERRORS(pool.name, "timeout").inc()
        return _problem(
            504,
            "Upstream timed out",
            "The plan's service did not answer in time. Try again shortly.",
            "upstream-timeout",
            request_id,
        )
    except UpstreamUnreachable:
        metrics.UPSTREAM_ERRORS(pool.name, "unreachable").inc()
        return _problem(
            502,
            "Upstream unavailable",
            "The plan's service cannot be reached. Try again shortly.",
            "upstream-unavailable",
            request_id,
        )
    response = Response(content=reply.body, status_code=reply.status)
    response.raw_headers += proxy.response_headers(reply.headers)
    response.raw_headers.append((b"x-request-id", request_id.encode()))
    return response


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
    """Ready when this gateway can serve: the issuer's keys loaded (every API request and
    portal sign-in verifies tokens with them). What it shares with every replica is
    reported and never fails readiness: each upstream's state (`upstreams`) and, with the
    portal on, its session store (`portal_sessions`). A plan service or a Redis that is
    down is down for every replica alike, so taking them all out of the load balancer
    would only add the APIs (and the other upstream) to the outage; requests that need
    the down part get 502/503/504 problems or the portal's 503 page meanwhile."""
    state = request.app.state
    checks = {"jwks": await _jwks_state(state.verifier)}
    upstreams: Upstreams = state.upstreams
    states = await asyncio.gather(*(_upstream_state(pool) for pool in upstreams.pools.values()))
    ready = all(v == "ok" for v in checks.values())
    body: dict[str, Any] = {
        "status": "ok" if ready else "unavailable",
        "checks": checks,
        "upstreams": dict(zip(upstreams.pools, states, strict=True)),
    }
    sessions = getattr(state, "portal_sessions", None)
    if sessions is not None:
        body["portal_sessions"] = await _session_store_state(sessions)
    if stores := _stores(request):
        body["stores"] = stores
    return FastJSONResponse(body, status_code=200 if ready else 503)


async def _jwks_state(verifier: TokenVerifier) -> str:
    """Loaded, or loaded now: a gateway started while identity was down becomes ready
    as soon as the keys can be fetched, not at the next scheduled refresh."""
    if not verifier.jwks_loaded:
        with contextlib.suppress(JWKSUnavailable, TimeoutError):
            async with asyncio.timeout(PROBE_SECONDS):
                await verifier.prime()
    return "ok" if verifier.jwks_loaded else "not loaded"


async def _upstream_state(pool: Pool) -> str:
    """`ok`, `status <n>`, `busy`, `timeout` or `unreachable`, within PROBE_SECONDS."""
    try:
        async with asyncio.timeout(PROBE_SECONDS):
            reply = await pool.exchange("GET", "/healthz", (), b"", PROBE_SECONDS)
    except (TimeoutError, UpstreamTimeout):
        return "timeout"
    except UpstreamBusy:
        return "busy"
    except UpstreamError:
        return "unreachable"
    return "ok" if reply.status == 200 else f"status {reply.status}"


async def _session_store_state(store: SessionStore) -> str:
    try:
        async with asyncio.timeout(PROBE_SECONDS):
            await store.ping()
    except TimeoutError:
        return "timeout"
    except (OSError, RedisError):
        return "unreachable"
    return "ok"


def _stores(request: Request) -> dict[str, dict[str, Any]]:
    """The Redis stores and their state (`down`: rate limits counting in this process,
    the portal answering 503). The rate limits' store is never part of readiness: a
    Redis outage must not take every replica out of the load balancer."""
    state = request.app.state
    sessions = getattr(state, "portal_sessions", None)
    found = [state.rate_limits.health, getattr(sessions, "health", None)]
    return {health.component: health.status() for health in found if health is not None}


async def _no_such_endpoint(request: Request, exc: Exception) -> Response:
    """A path the gateway does not route: a problem pointing to the API description
    (the portal's pages keep their own answers)."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code != 404 or answer_kind(request) == "html":
        return await http_exception_handler(request, exc)
    detail = (
        f"There is no endpoint at {request.url.path}. The APIs this gateway serves are "
        "described at /docs (and /openapi.json)."
    )
    return _problem(404, "No such endpoint", detail, "no-such-endpoint", request.state.request_id)


def answer_kind(request: Request) -> outages.Kind:
    return "html" if request.url.path.startswith("/portal") else "api"


def create_app(
    settings: Settings | None = None, *, verifier: TokenVerifier | None = None
) -> FastAPI:
    settings = settings or Settings()
    logs.configure(settings.log_format)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        upstreams = Upstreams(settings)  # a connection pool per upstream
        app.state.settings = settings
        app.state.rate_limits = ratelimit.RateLimits.from_settings(settings)
        app.state.upstreams = upstreams
        app.state.verifier = verifier or TokenVerifier(
            settings.issuer,
            settings.audience,
            settings.jwks_uri,
            refresh_interval=settings.jwks_refresh_interval,
        )
        if verifier is None:
            tracing.instrument_httpx(app.state.verifier.jwks.http_client, "gateway")
        with contextlib.suppress(JWKSUnavailable):
            await app.state.verifier.prime()
        heap.freeze_startup_heap(settings.environment)
        try:
            yield
        finally:
            await upstreams.aclose()
            if verifier is None:
                await app.state.verifier.aclose()
            else:
                await app.state.verifier.stop()
            await app.state.rate_limits.aclose()
            sessions = getattr(app.state, "portal_sessions", None)
            if isinstance(sessions, RedisSessionStore):
                await sessions.aclose()

    app = FastAPI(
        title="TINpass gateway", lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None
    )
    # Its own dependencies down (Redis: rate limits, portal sessions): a 503 problem, or
    # a page under /portal, with Retry-After and one log line (policy.outages).
    outages.install(app, answer_kind)
    app.add_exception_handler(StarletteHTTPException, _no_such_endpoint)
    app.include_router(router)
    apidocs.install(app, settings)  # /openapi.json and /docs: the plan's APIs, merged
    if settings.portal_enabled:
        portal.install(app, settings)
    cors.install(app, settings)
    app.add_middleware(InputGuard, check_headers=True)
    metrics.install(app, "gateway", settings.metrics_token)  # request ids, access log, metrics
    forwarded.install(app, settings.trusted_proxies)
    tracing.instrument_app(app, "gateway")
    return app
