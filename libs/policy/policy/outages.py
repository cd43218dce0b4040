"""One answer for "a dependency is down", in every service.

`is_outage(error)` says whether an exception means that the database, Redis or the
network to them is unavailable (refused, lost or timed-out connections, a full pool,
a server shutting down or cancelling a statement), as opposed to a bug. Such a
request is answered 503 with `Retry-After` (`RETRY_AFTER` seconds), in the form its
route speaks:

- `"api"`: an RFC 9457 problem (`application/problem+json`, type
  `.../problems/service-unavailable`, with the request id);
- `"oauth"`: the OAuth error JSON `{"error": "temporarily_unavailable", ...}`
  (RFC 6749 §4.1.2.1, used by /token, /introspect, /revoke and /userinfo);
- `"html"`: a short page, "TINpass is briefly unavailable".

and logged as ONE warning line naming the exception classes (never a message,
which may carry SQL parameters, nor a traceback): `log_outage`.

`install(app, kind_of)` registers the handlers on a Starlette/FastAPI app; `kind_of`
maps a request to "api", "oauth" or "html". An exception of a handled class that is
not an outage (a bug) is a 500 in the same form, logged with its traceback.
Redis's exceptions are recognised by class name, so policy does not import redis.
"""

from __future__ import annotations

import contextlib
import html
import importlib
import logging
from collections.abc import Callable
from typing import Any, Literal

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, PendingRollbackError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from policy.audit_batch import AuditWriteFailed
from policy.fastjson import FastJSONResponse
from policy.inputs import request_id as request_id_of
from policy.problems import PROBLEM_JSON, problem

Kind = Literal["api", "oauth", "html"]

RETRY_AFTER = 5  # seconds a client is asked to wait
log = logging.getLogger("policy.outages")

# SQLSTATE classes of a server that cannot serve now: 08 connection exception,
# 53 insufficient resources (too many connections), 57 operator intervention
# (statement timeout / query cancelled, admin or crash shutdown, cannot connect now).
_SQLSTATE_CLASSES = ("08", "53", "57")
# Files, not networks: an OSError of these kinds is a bug or a configuration error.
_FILE_ERRORS = (FileNotFoundError, FileExistsError, PermissionError, IsADirectoryError,
                NotADirectoryError)  # fmt: skip
# Recognised by (module prefix, class name) anywhere in the exception's class hierarchy.
_NAMED = {
    ("redis", "ConnectionError"),
    ("redis", "TimeoutError"),
    ("asyncpg", "InterfaceError"),  # "connection is closed", another operation in progress
    ("asyncpg", "ConnectionDoesNotExistError"),
    ("asyncpg", "PostgresConnectionError"),
    ("limits", "StorageError"),  # a limits storage (Redis) that failed
}


def _named(error: BaseException) -> bool:
    for cls in type(error).__mro__:
        if (cls.__module__.split(".")[0], cls.__name__) in _NAMED:
            return True
    return False


def _connection_error(error: DBAPIError) -> bool:
    """SQLAlchemy's InterfaceError and OperationalError, except SQLite's operational
    errors other than a busy database (a missing table is a bug, not an outage)."""
    if not isinstance(error, (InterfaceError, OperationalError)):
        return False
    if type(error.orig).__module__.startswith("sqlite3"):
        return "locked" in str(error.orig) or "busy" in str(error.orig)
    return True


def _one(error: BaseException) -> bool:
    if isinstance(error, (PoolTimeout, TimeoutError, ConnectionError, AuditWriteFailed)):
        return True
    if isinstance(error, PendingRollbackError):  # its connection was lost (invalidated)
        return "invalid transaction" in str(error)
    if isinstance(error, DBAPIError):  # its driver error is looked at as its cause
        return error.connection_invalidated or _connection_error(error)
    if isinstance(error, OSError):
        return not isinstance(error, _FILE_ERRORS)
    sqlstate = getattr(error, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate[:2] in _SQLSTATE_CLASSES:
        return True
    return _named(error)


def is_outage(error: BaseException) -> bool:
    """A dependency (database, Redis, the network to them) is unavailable."""
    seen = 0
    current: BaseException | None = error
    while current is not None and seen < 5:
        if _one(current):
            return True
        current, seen = current.__cause__, seen + 1
    return False


def describe(error: BaseException) -> str:
    """The exception classes along the cause chain: `DBAPIError<-ConnectionRefusedError`."""
    names: list[str] = []
    current: BaseException | None = error
    while current is not None and len(names) < 4:
        names.append(type(current).__name__)
        nxt = getattr(current, "orig", None) if isinstance(current, DBAPIError) else None
        current = nxt if isinstance(nxt, BaseException) else current.__cause__
    return "<-".join(dict.fromkeys(names))


def log_outage(error: BaseException, where: str = "") -> None:
    """One line, no traceback, no message text (it may carry SQL parameters)."""
    log.warning("dependency unavailable (%s) at %s: answered 503", describe(error), where or "-")


def headers() -> dict[str, str]:
    return {"Retry-After": str(RETRY_AFTER), "Cache-Control": "no-store"}


def problem_body(request_id: str | None = None) -> dict[str, Any]:
    return problem(
        503,
        "Service unavailable",
        f"A service this request needs is unavailable just now. Retry in {RETRY_AFTER} s; "
        "if it persists, contact the operator.",
        type_slug="service-unavailable",
        retry_after=RETRY_AFTER,
        request_id=request_id,
    )


def oauth_body() -> dict[str, str]:
    return {
        "error": "temporarily_unavailable",
        "error_description": f"The service is briefly unavailable; retry in {RETRY_AFTER} s.",
    }


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body><main><h1>{title}</h1><p>{message}</p>{reference}</main></body></html>
"""


def html_page(title: str, message: str, request_id: str | None = None) -> str:
    reference = f"<p>Reference: {html.escape(request_id)}</p>" if request_id else ""
    return PAGE.format(title=html.escape(title), message=html.escape(message), reference=reference)


def response(kind: Kind, request_id: str | None = None) -> Response:
    """The 503 answer for an outage, in the form of the route."""
    if kind == "oauth":
        return FastJSONResponse(oauth_body(), status_code=503, headers=headers())
    if kind == "html":
        page = html_page(
            "TINpass is briefly unavailable",
            "Something TINpass needs is not answering. Please try again in a minute.",
            request_id,
        )
        return HTMLResponse(page, status_code=503, headers=headers())
    return FastJSONResponse(
        problem_body(request_id), status_code=503, media_type=PROBLEM_JSON, headers=headers()
    )


def unexpected(kind: Kind, request_id: str | None = None) -> Response:
    """The 500 answer for a bug (never a text/plain traceback)."""
    if kind == "oauth":
        body = {"error": "server_error", "error_description": "The service failed to answer."}
        return FastJSONResponse(body, status_code=500, headers={"Cache-Control": "no-store"})
    if kind == "html":
        page = html_page(
            "Something went wrong",
            "The service failed to answer. Try again; if it persists, contact support.",
            request_id,
        )
        return HTMLResponse(page, status_code=500)
    body = problem(
        500,
        "Internal error",
        "The service failed to answer. Try again; if it persists, contact support.",
        type_slug="internal-error",
        request_id=request_id,
    )
    return FastJSONResponse(body, status_code=500, media_type=PROBLEM_JSON)


def not_ready(checks: dict[str, str]) -> Response:
    """`/readyz` when a check fails: a 503 problem naming each check's state."""
    failing = ", ".join(name for name, state in checks.items() if state != "ok")
    body = problem(
        503,
        "Not ready",
        f"Not ready to serve requests: {failing}. Retry in {RETRY_AFTER} s.",
        type_slug="not-ready",
        checks=checks,
    )
    return FastJSONResponse(body, status_code=503, media_type=PROBLEM_JSON, headers=headers())


def handled_types() -> tuple[type[BaseException], ...]:
    """The classes to register handlers for: ours, asyncpg's and Redis's when loaded."""
    types: list[type[BaseException]] = [
        DBAPIError,
        PoolTimeout,
        PendingRollbackError,
        OSError,
        AuditWriteFailed,
    ]
    for module, name in sorted(_NAMED):
        for where in (f"{module}.exceptions", f"{module}.errors"):
            with contextlib.suppress(ImportError):  # not installed: nothing of it to catch
                found = getattr(importlib.import_module(where), name, None)
                if isinstance(found, type) and issubclass(found, BaseException):
                    types.append(found)
    return tuple(dict.fromkeys(types))  # TimeoutError and ConnectionError are OSErrors


def _request_id(request: Request) -> str:
    """The id `policy.boundary.RequestIds` gave the request, else the caller's (when
    safe) or a new one."""
    value = getattr(request.state, "request_id", None)
    return value if isinstance(value, str) else request_id_of(request.headers.get("x-request-id"))


def install(app: Any, kind_of: Callable[[Request], Kind], *, catch_all: bool = True) -> None:
    """Answer outages with 503 (one log line) and other failures with a 500 in the
    route's form. `catch_all` also covers every other exception (Starlette's server
    error middleware then logs its traceback once)."""

    async def handle(request: Request, error: Exception) -> Response:
        kind = kind_of(request)
        if is_outage(error):
            log_outage(error, f"{request.method} {request.url.path}")
            return response(kind, _request_id(request))
        log.error("unexpected %s at %s", type(error).__name__, request.url.path, exc_info=error)
        return unexpected(kind, _request_id(request))

    async def last_resort(request: Request, error: Exception) -> Response:
        # Raised outside the handlers' reach (a middleware): the server logs it.
        if is_outage(error):
            return response(kind_of(request), _request_id(request))
        return unexpected(kind_of(request), _request_id(request))

    for cls in handled_types():
        app.add_exception_handler(cls, handle)
    if catch_all:
        app.add_exception_handler(Exception, last_resort)
