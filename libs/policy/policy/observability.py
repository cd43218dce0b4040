"""One ASGI middleware for every service: request ids, one access-log line and the
request metrics per route template.

`Observability(app, service=...)` (plain ASGI: nothing buffered or wrapped beyond
`send`) gives each request an id (the caller's `X-Request-ID` when it is a safe one,
`policy.inputs.request_id`; the gateway forwards its own), kept as
`request.state.request_id` and sent back in the response's `X-Request-ID`. When the
request ends it

- observes `tinpass_http_request_duration_seconds{service, method, route, status}`:
  the route is the matched route's template (`/claims/v1/claims/{claim_number}`),
  never the path, and `unmatched` for a request no route took (404s, requests refused
  before routing), so made-up paths cannot multiply the series; the method is one of
  the HTTP methods or `OTHER`; the status its class (`2xx` ... `5xx`);
- writes one line to the `tinpass.access` logger (`policy.logs`): method, route,
  status, duration, request id, and the client and organization the request was
  authenticated as, when the service put them in the request's state (`identify`).
  Never the path, the query, a header or a body: they carry member ids, claim
  numbers, codes and tokens. With tracing on (`policy.tracing`), the line carries the
  active trace's id (`trace_id`) too.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import Histogram
from pydantic import BaseModel, Field

from policy.inputs import request_id as request_id_of
from policy.logs import LogFormat

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ACCESS_LOG = logging.getLogger("tinpass.access")
UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
STATUS_CLASSES = {1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}
REQUEST_SECONDS = Histogram(
    "tinpass_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by route template; "
    "its _count is the request rate, by status class the errors.",
    ["service", "method", "route", "status"],
    buckets=(0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
_ID_HEADER = b"x-request-id"


class Telemetry(BaseModel):
    """Mixed into a service's Settings: `<PREFIX>LOG_FORMAT` (`json`, the default, or
    `text`) and `<PREFIX>METRICS_TOKEN` (when set, `/metrics` wants it as a bearer token)."""

    log_format: LogFormat = "json"
    metrics_token: str = Field(default="", repr=False)


def identify(scope: Scope, client_id: str | None, organization: str | None) -> None:
    """Name the client (and organization) a request was authenticated as, for its log
    line: call where the service verified the token or authenticated the client."""
    state = scope.setdefault("state", {})
    state["client_id"] = client_id
    state["organization"] = organization


def route_of(scope: Scope, templates: dict[Any, str] | None = None) -> str:
    """The template of the route that took the request, else `unmatched`: FastAPI's
    routes are `scope["route"]`; plain Starlette routes and mounts (which FastAPI does
    not put there) are found by their endpoint in `templates`."""
    template = getattr(scope.get("route"), "path_format", None)
    if isinstance(template, str):
        return template
    if templates and (endpoint := scope.get("endpoint")) is not None:
        return templates.get(endpoint, UNMATCHED)
    return UNMATCHED


def templates_of(routes: Any) -> dict[Any, str]:
    """Endpoint (or mounted app) -> route template, for `route_of`."""
    found: dict[Any, str] = {}
    for route in routes:
        target = getattr(route, "endpoint", None) or getattr(route, "app", None)
        template = getattr(route, "path_format", None)
        if target is not None and isinstance(template, str):
            found.setdefault(target, template)
    return found


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == _ID_HEADER:
            return request_id_of(value.decode("latin-1"))
    return request_id_of(None)


class Observability:
    def __init__(self, app: ASGIApp, *, service: str, routes: Any = None) -> None:
        self.app = app
        self.service = service
        self.routes = routes  # the application (its `.routes`), read at the first request
        self._templates: dict[Any, str] | None = None
        self._series: dict[tuple[str, str, int], Any] = {}  # children, no lock per request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = scope.setdefault("state", {})
        request_id = state["request_id"] = _request_id(scope)
        header = (_ID_HEADER, request_id.encode())
        status = 500  # unless an answer starts: an exception escaped

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                kept = [(k, v) for k, v in message.get("headers", ()) if k.lower() != _ID_HEADER]
                message["headers"] = [*kept, header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._done(scope, state, status, time.perf_counter() - started)

    def _done(self, scope: Scope, state: dict[str, Any], status: int, seconds: float) -> None:
        method = scope["method"] if scope["method"] in METHODS else "OTHER"
        if self._templates is None:
            self._templates = templates_of(getattr(self.routes, "routes", ()))
        route = route_of(scope, self._templates)
        key = (method, route, status // 100)
        series = self._series.get(key)
        if series is None:
            label = STATUS_CLASSES.get(key[2], "5xx")
            series = self._series[key] = REQUEST_SECONDS.labels(self.service, method, route, label)
        series.observe(seconds)
        if ACCESS_LOG.isEnabledFor(logging.INFO):
            line = {
                "service": self.service,
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
                "request_id": state["request_id"],
                "client_id": state.get("client_id"),
                "organization": state.get("organization"),
            }
            if (trace_id := _trace_id()) is not None:
                line["trace_id"] = trace_id
            ACCESS_LOG.info("http.request", line)


def _trace_id() -> str | None:
    """The active span's trace id when tracing is on (policy.tracing), else None: with
    tracing off OpenTelemetry is never imported, and this is one dictionary lookup."""
    otel = sys.modules.get("opentelemetry.trace")
    if otel is None:
        return None
    context = otel.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None
