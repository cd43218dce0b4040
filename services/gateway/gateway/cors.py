"""CORS per origin: listed browser origins may call the APIs, no other gets any CORS header.

Starlette's `CORSMiddleware` answers for the listed origins. A request from any
other origin never reaches it: a preflight gets a 403 problem without a single
`Access-Control-*` header (so the browser refuses the call), and an ordinary
request is passed on untouched (the browser will not let the page read it).
No cookies cross origins (`allow_credentials` is off): the APIs take bearer tokens.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.problems import problem_response
from gateway.settings import Settings

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
REQUEST_HEADERS = ("Authorization", "Content-Type", "X-Request-ID")
EXPOSED_HEADERS = ("X-Request-ID", "Retry-After", "WWW-Authenticate")


class PerOriginCORS:
    def __init__(self, app: ASGIApp, allowed_origins: list[str], max_age: int = 600) -> None:
        self.app = app
        self.allowed = frozenset(allowed_origins)
        self.cors = CORSMiddleware(
            app,
            allow_origins=sorted(self.allowed),
            allow_methods=METHODS,
            allow_headers=REQUEST_HEADERS,
            expose_headers=EXPOSED_HEADERS,
            allow_credentials=False,
            max_age=max_age,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None or origin in self.allowed:
            await self.cors(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            request_id = scope["state"]["request_id"]  # policy.observability, outside this
            response = problem_response(
                403,
                "Origin not allowed",
                "This plan's APIs do not accept calls from pages at this origin. "
                "Ask the plan to add it to the gateway's allowed origins.",
                "cors-origin-not-allowed",
                request_id,
                Vary="Origin",
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def install(app: FastAPI, settings: Settings) -> None:
    app.add_middleware(
        PerOriginCORS, allowed_origins=settings.cors_allowed_origins, max_age=settings.cors_max_age
    )
