"""The portal's session cookie and security headers, as plain ASGI middleware.

For paths under `/portal` the middleware loads the server-side session named by
the plan's session cookie (`Settings.portal_cookie`: `portal_session_<plan>`, one
name per plan so two portals on one host keep apart; `__Host-` behind https) into
`scope["session"]` (where Authlib's Starlette client and the routes read it), and
when the response starts it saves the session, rotates its id if asked (after
sign-in, against session fixation) or deletes it (logout), and sets or clears the
cookie: HttpOnly, SameSite=Lax, Path=/portal (Path=/ as `__Host-` requires, and
Secure, behind https). Every portal response also gets the security headers: a
Content-Security-Policy without any script, no framing, no referrer, no caching.

When the session store cannot be reached (`SessionStoreUnavailable`: Redis down) a
portal page that needs a session answers a friendly 503 page with Retry-After instead
of what it would have shown; pages without a session (the landing page) still work.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.portal.sessions import SessionStore, SessionStoreUnavailable, new_id
from gateway.portal.views import render

PREFIX = "/portal"
CSP = (
    "default-src 'none'; script-src {issuer}/static/time.js; style-src 'self'; img-src 'self'; "
    "form-action 'self' {issuer}; base-uri 'none'; frame-ancestors 'none'"
)


@dataclass
class PortalSession:
    """The request's session: its data, and what should happen to it at response time."""

    id: str | None
    data: dict[str, Any]
    original: dict[str, Any] = field(default_factory=dict)
    rotate: bool = False
    ended: bool = False

    def end(self) -> None:
        self.ended = True

    def renew(self) -> None:
        """A new id for the same data (called when a person signs in)."""
        self.rotate = True


class PortalMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        store: SessionStore,
        *,
        cookie: str,
        cookie_path: str,
        secure: bool,
        issuer: str,
        ttl: int,
    ) -> None:
        self.app, self.store, self.secure, self.ttl = app, store, secure, ttl
        self.cookie, self.cookie_path = cookie, cookie_path
        self.csp = CSP.format(issuer=issuer.rstrip("/"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        cookie = HTTPConnection(scope).cookies.get(self.cookie)
        try:
            loaded = await self.store.load(cookie) if cookie else None
        except SessionStoreUnavailable as error:
            await self._unavailable(scope, receive, send, error)
            return
        session = PortalSession(
            cookie if loaded is not None else None, loaded or {}, copy.deepcopy(loaded or {})
        )
        scope["session"] = session.data
        scope["portal.session"] = session
        answer = {"started": False, "replaced": False}

        async def send_with_session(message: Message) -> None:
            if answer["replaced"]:
                return  # the app's answer gave way to the 503 page
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                try:
                    await self._persist(session, headers)
                except SessionStoreUnavailable as error:
                    answer["replaced"] = True
                    await self._unavailable(scope, receive, send, error)
                    return
                self._security_headers(headers)
                answer["started"] = True
            await send(message)

        try:
            await self.app(scope, receive, send_with_session)
        except SessionStoreUnavailable as error:
            if answer["started"] or answer["replaced"]:
                raise
            await self._unavailable(scope, receive, send, error)

    async def _unavailable(
        self, scope: Scope, receive: Receive, send: Send, error: SessionStoreUnavailable
    ) -> None:
        """The friendly 503 page: the session store is down, try again shortly."""
        scope["session"] = {}
        seconds = f"{error.retry_after} second{'' if error.retry_after == 1 else 's'}"
        response = render(
            Request(scope, receive),
            "message.html",
            "Please try again shortly",
            status_code=503,
            message=(
                "The portal cannot reach the store that keeps sign-ins just now, so it cannot "
                f"open your session. Nothing you did is lost: please try again in {seconds}."
            ),
        )
        response.headers["Retry-After"] = str(error.retry_after)
        self._security_headers(response.headers)
        await response(scope, receive, send)

    async def _persist(self, session: PortalSession, headers: MutableHeaders) -> None:
        if session.ended:
            if session.id:
                await self.store.delete(session.id)
            headers.append("Set-Cookie", self._cookie("", max_age=0))
            return
        if session.rotate and session.id:
            await self.store.delete(session.id)
            session.id = None
        if session.id is None and not session.data:
            return
        if session.id is None:
            session.id = new_id()
            headers.append("Set-Cookie", self._cookie(session.id, max_age=self.ttl))
        if session.data != session.original or session.rotate:
            await self.store.save(session.id, session.data)

    def _cookie(self, value: str, *, max_age: int) -> str:
        parts = [f"{self.cookie}={value}", f"Path={self.cookie_path}", f"Max-Age={max_age}"]
        parts += ["HttpOnly", "SameSite=Lax"]
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts)

    def _security_headers(self, headers: MutableHeaders) -> None:
        headers["Content-Security-Policy"] = self.csp
        headers["X-Frame-Options"] = "DENY"
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "no-referrer"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        headers["Cache-Control"] = "no-store"
        if self.secure:
            headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
