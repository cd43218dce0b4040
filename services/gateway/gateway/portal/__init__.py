"""The plan's portal, served by the gateway: people sign in with TINpass (OIDC code
flow with PKCE), see eligibility and claims decided by their TINs, and sign out of
every plan at once.

`install(app, settings)` mounts it when `GATEWAY_PORTAL_CLIENT_ID` is set.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import RedirectResponse

from gateway.portal import auth, claims, pages
from gateway.portal.middleware import PortalMiddleware
from gateway.portal.redis_sessions import RedisSessionStore
from gateway.portal.sessions import MemorySessionStore, SessionStore
from gateway.portal.views import HERE
from gateway.settings import Settings


def session_store(settings: Settings) -> SessionStore:
    """Sessions in this process (memory://, one worker) or in Redis (shared)."""
    if settings.portal_session_store_url == "memory://":
        return MemorySessionStore(
            settings.portal_session_ttl, settings.portal_idle_timeout, settings.portal_max_sessions
        )
    return RedisSessionStore(
        settings.portal_session_store_url,
        settings.rate_limit_key_prefix,
        settings.portal_session_ttl,
        settings.portal_idle_timeout,
        timeout=settings.redis_timeout,
        retry_interval=settings.redis_retry_interval,
    )


def install(app: FastAPI, settings: Settings, store: SessionStore | None = None) -> None:
    """Mount the portal's routes, session middleware and static files on the gateway."""
    store = store or session_store(settings)
    app.state.portal_sessions = store
    app.state.portal_oauth = auth.oauth_registry(settings)
    app.add_middleware(
        PortalMiddleware,
        store=store,
        cookie=settings.portal_cookie,
        cookie_path=settings.portal_cookie_path,
        secure=settings.portal_secure_cookies,
        issuer=settings.issuer,
        ttl=settings.portal_session_ttl,
    )
    app.include_router(auth.router)
    app.include_router(pages.router)
    app.include_router(claims.router)
    app.mount("/portal/static", StaticFiles(directory=HERE / "static"), name="portal-static")

    @app.get("/", include_in_schema=False)
    async def root(request: Request) -> RedirectResponse:
        return RedirectResponse("/portal/", status_code=303)
