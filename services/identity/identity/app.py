"""The identity service: an OpenID Provider (FastAPI application factory).

Run with `uvicorn --factory identity.app:create_app --no-proxy-headers`
(forwarded headers are trusted only from the configured proxies, policy.forwarded).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from identity import audit
from identity.admin import api as admin_api
from identity.admin import clients_api, nominations, operator_accounts, operator_api
from identity.admin import idempotency as admin_idempotency
from identity.admin import openapi as admin_openapi
from identity.admin import problems as admin_problems
from identity.backchannel_logout import Sender
from identity.db import create_engine, session_factory
from identity.janitor import Janitor
from identity.keys import KeyStore, ensure_keys
from identity.mail import Mailer
from identity.oauth.client_cache import ClientCache
from identity.oauth.server import TinpassAuthorizationServer
from identity.recovery_mail import ACCOUNT_BUCKET as RECOVERY_ACCOUNT_BUCKET
from identity.recovery_mail import RecoveryDesk
from identity.security import hashing_threads
from identity.settings import Settings
from identity.throttle import Throttle
from identity.web import (
    account,
    account_mfa,
    account_sessions,
    audit_status,
    authorize,
    console,
    console_actions,
    console_clients,
    console_confirm,
    console_operator,
    endpoints,
    home,
    login,
    nomination,
    recovery,
    register,
)
from identity.web.forms import FormRejected, rejected_page
from identity.web.headers import SecurityHeaders
from policy import forwarded, heap, logs, metrics, outages, sealer, tracing
from policy.boundary import InputGuard
from policy.problems import Problem

# Endpoints answering bad parameters in their protocol's terms (identity.oauth.parameters).
OAUTH_PATHS = ("/authorize", "/logout", "/token", "/introspect", "/revoke")


async def _rejected_form(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FormRejected)
    return rejected_page(request, exc)


# Endpoints whose failures are OAuth errors (`temporarily_unavailable` when down).
OAUTH_ERROR_PATHS = frozenset({"/token", "/introspect", "/revoke", "/userinfo"})
# Machine-read routes: RFC 9457 problems. Everything else is a page people read.
API_PREFIXES = ("/api/", "/.well-known/", "/readyz", "/healthz", "/status/", "/openapi.json")


def answer_kind(request: Request) -> outages.Kind:
    """The form of a failure's answer at this path (policy.outages)."""
    path = request.url.path
    if path in OAUTH_ERROR_PATHS:
        return "oauth"
    return "api" if path.startswith(API_PREFIXES) else "html"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    logs.configure(settings.log_format)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url, pool=settings)
        tracing.instrument_engine(engine, "identity")
        metrics.watch_pool(engine, "identity")
        hashing_threads(settings.password_hash_threads)
        sessionmaker = session_factory(engine)
        async with sessionmaker() as session:
            await ensure_keys(session, settings)
            await session.commit()
        app.state.settings = settings
        app.state.sessionmaker = sessionmaker
        app.state.keystore = KeyStore(sessionmaker, settings)
        app.state.client_cache = ClientCache(settings.client_cache_seconds)
        http = httpx.AsyncClient(timeout=5)
        tracing.instrument_httpx(http, "identity")  # back-channel logout deliveries
        sender = Sender(sessionmaker, app.state.keystore, settings, http)
        app.state.backchannel = sender
        sending = asyncio.create_task(sender.run(settings.backchannel_interval))
        app.state.oauth_server = TinpassAuthorizationServer(settings)
        app.state.mailer = Mailer(settings)
        app.state.throttle = Throttle(
            settings.rate_limit_storage,
            {
                "login": settings.login_rate_limit,
                "register": settings.login_rate_limit,
                "token": settings.token_rate_limit,
                "recovery": settings.recovery_rate_limit,
                RECOVERY_ACCOUNT_BUCKET: settings.recovery_account_rate_limit,
                nominations.ORGANIZATION_BUCKET: settings.invitation_rate_limit_per_organization,
                nominations.ADDRESS_BUCKET: settings.invitation_rate_limit_per_address,
            },
            key_prefix=settings.rate_limit_key_prefix,
            timeout=settings.redis_timeout,
            retry_interval=settings.redis_retry_interval,
        )
        desk = RecoveryDesk(sessionmaker, settings, app.state.mailer, app.state.throttle)
        app.state.recovery_desk = desk
        tasks = [sending, asyncio.create_task(desk.run())]
        if settings.janitor_interval > 0:
            tasks.append(asyncio.create_task(Janitor(sessionmaker, settings).run()))
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
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await http.aclose()
            await app.state.throttle.aclose()
            metrics.unwatch_pool(engine, "identity")
            await engine.dispose()

    app = FastAPI(
        title="TINpass identity", version="1.0", lifespan=lifespan, docs_url=None, redoc_url=None
    )
    admin_openapi.install(app, settings.issuer)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    for path, endpoint in endpoints.CLIENT_ENDPOINTS.items():
        app.add_route(path, endpoint, methods=["POST"], include_in_schema=False)
    app.include_router(endpoints.router)
    app.include_router(audit_status.router)
    app.include_router(home.router)
    app.include_router(authorize.router)
    app.include_router(login.router)
    app.include_router(recovery.router)
    app.include_router(account.router)
    app.include_router(account_mfa.router)
    app.include_router(account_sessions.router)
    app.include_router(account.confirm_router)
    app.include_router(admin_api.router)
    app.include_router(clients_api.router)
    app.include_router(nomination.router)
    app.include_router(operator_api.router)
    app.include_router(operator_accounts.router)
    app.include_router(register.router)
    app.include_router(console.router)
    app.include_router(console_actions.router)
    app.include_router(console_clients.router)
    app.include_router(console_confirm.router)
    app.include_router(console_operator.router)
    app.add_exception_handler(Problem, admin_problems.handle)
    app.add_exception_handler(admin_idempotency.Replay, admin_idempotency.handle_replay)
    app.add_exception_handler(RequestValidationError, admin_problems.handle_validation)
    app.add_exception_handler(StarletteHTTPException, admin_problems.handle_http)
    app.add_exception_handler(FormRejected, _rejected_form)
    # Database, Redis or audit writes down: 503 with Retry-After, one log line; any
    # other failure a 500 in the path's form, never a bare traceback (policy.outages).
    outages.install(app, answer_kind)

    app.add_middleware(InputGuard, protocol_paths=OAUTH_PATHS)
    app.add_middleware(SecurityHeaders, secure=settings.secure_cookies)
    # request ids, the access log and request metrics (plain ASGI, like the two above)
    metrics.install(app, "identity", settings.metrics_token)
    forwarded.install(app, settings.trusted_proxies)
    tracing.instrument_app(app, "identity")  # the whole app: /token and its peers too
    return app
