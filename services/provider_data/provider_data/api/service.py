"""What the eligibility and claims apps share: lifespan (with the access trail's sealer
and group-commit writer), errors, health, audit sealing status, request ids, the
reference-data cache (`provider_data.reads.reference`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from sqlalchemy import text
from starlette.responses import Response

from policy import (
    JWKSUnavailable,
    TokenVerifier,
    forwarded,
    heap,
    logs,
    metrics,
    outages,
    sealer,
    tracing,
)
from policy.boundary import InputGuard
from policy.fastjson import FastJSONResponse
from provider_data.api import openapi
from provider_data.platform import audit, problems
from provider_data.platform.db import create_engine, session_factory
from provider_data.platform.settings import Settings
from provider_data.reads import reference


def build_app(
    title: str,
    description: str,
    router: APIRouter,
    settings: Settings | None,
    verifier: TokenVerifier | None,
) -> FastAPI:
    settings = settings or Settings()
    service = title.lower()  # eligibility or claims: the services' name in traces and metrics
    logs.configure(settings.log_format)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url, pool=settings)
        tracing.instrument_engine(engine, service)
        metrics.watch_pool(engine, service)
        app.state.settings = settings
        app.state.sessionmaker = session_factory(engine)
        app.state.reference = reference.ReferenceCache(settings.reference_cache_seconds)
        app.state.verifier = verifier or TokenVerifier(
            settings.issuer,
            settings.audience,
            settings.jwks_uri,
            refresh_interval=settings.jwks_refresh_interval,
        )
        if verifier is None:
            tracing.instrument_httpx(app.state.verifier.jwks.http_client, service)
        # Identity may start later: the first request with a token fetches the keys then.
        with contextlib.suppress(JWKSUnavailable):
            await app.state.verifier.prime()
        app.state.sealer = audit.sealer(engine, settings)
        sealing = asyncio.create_task(app.state.sealer.run())
        app.state.audit_writer = audit.writer(engine, settings)
        if app.state.audit_writer is not None:
            await app.state.audit_writer.start()
        heap.freeze_startup_heap(settings.environment)
        try:
            yield
        finally:
            if app.state.audit_writer is not None:
                await app.state.audit_writer.stop()
            await sealer.stop(app.state.sealer, sealing)
            if verifier is None:
                await app.state.verifier.aclose()
            else:
                await app.state.verifier.stop()
            metrics.unwatch_pool(engine, service)
            await engine.dispose()

    app = FastAPI(
        title=title,
        description=description,
        lifespan=lifespan,
        version="1.0",
        docs_url=None,
        redoc_url=None,
    )
    openapi.install(app, settings.issuer)  # /openapi.json and /docs, served offline
    problems.install(app)
    app.include_router(router)
    app.include_router(_health)
    app.add_middleware(InputGuard)
    # request ids, access log, request metrics; outside InputGuard: its refusals carry the id
    metrics.install(app, service, settings.metrics_token)
    forwarded.install(app, settings.trusted_proxies)
    tracing.instrument_app(app, service)
    return app


_health = APIRouter(tags=["health"])


@_health.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@_health.get("/readyz")
async def readyz(request: Request) -> Response:
    checks = {
        "database": "ok",
        "jwks": "ok" if request.app.state.verifier.jwks_loaded else "not loaded",
    }
    try:  # bounded by the database timeouts (policy.dbpool)
        async with request.app.state.sessionmaker() as session:
            await session.execute(text("SELECT 1"))
    except Exception as error:  # readiness reports any failure
        outages.log_outage(error, "/readyz")
        checks["database"] = "unreachable"
    if any(v != "ok" for v in checks.values()):
        return outages.not_ready(checks)
    return FastJSONResponse({"status": "ok", "checks": checks})


@_health.get("/status/audit", include_in_schema=False)
async def audit_status(request: Request) -> dict[str, Any]:
    """The access trail's sealing lag and this process's sealer, for monitoring."""
    async with request.app.state.sessionmaker() as session:
        state = await audit.status(session)
    writer = request.app.state.audit_writer
    return {
        **state.as_dict(),
        "sealer": request.app.state.sealer.describe(),
        "group_commit": writer.describe() if writer is not None else None,
    }
