"""What the eligibility and claims apps share: lifespan, errors, health, request ids."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.responses import Response

from policy import JWKSUnavailable, TokenVerifier, forwarded, inputs
from policy.boundary import InputGuard
from provider_data import problems
from provider_data.db import create_engine, session_factory
from provider_data.settings import Settings


def build_app(
    title: str,
    description: str,
    router: APIRouter,
    settings: Settings | None,
    verifier: TokenVerifier | None,
) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url)
        app.state.settings = settings
        app.state.sessionmaker = session_factory(engine)
        app.state.verifier = verifier or TokenVerifier(
            settings.issuer,
            settings.audience,
            settings.jwks_uri,
            refresh_interval=settings.jwks_refresh_interval,
        )
        # Identity may start later: the first request with a token fetches the keys then.
        with contextlib.suppress(JWKSUnavailable):
            await app.state.verifier.prime()
        try:
            yield
        finally:
            if verifier is None:
                await app.state.verifier.aclose()
            else:
                await app.state.verifier.stop()
            await engine.dispose()

    app = FastAPI(title=title, description=description, lifespan=lifespan, version="1.0")
    problems.install(app)
    app.add_middleware(InputGuard)
    app.include_router(router)
    app.include_router(_health)

    @app.middleware("http")
    async def request_ids(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        request.state.request_id = inputs.request_id(request.headers.get("x-request-id"))
        response = await call_next(request)
        response.headers["X-Request-ID"] = request.state.request_id
        return response

    forwarded.install(app, settings.trusted_proxies)
    return app


_health = APIRouter(tags=["health"])


@_health.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@_health.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    checks = {
        "database": "ok",
        "jwks": "ok" if request.app.state.verifier.jwks_loaded else "not loaded",
    }
    try:
        async with request.app.state.sessionmaker() as session:
            await session.execute(text("SELECT 1"))
    except Exception:  # readiness reports any failure
        checks["database"] = "unreachable"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )
