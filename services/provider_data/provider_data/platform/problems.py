"""RFC 9457 problem details for every error these services answer.

Each problem has a stable `type` (policy.problems) and a detail a person can act
on; 401 answers carry the RFC 6750 challenge.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from policy import PROBLEM_JSON, outages, problem
from policy.fastjson import FastJSONResponse as JSONResponse
from policy.problems import Problem
from policy.rfc6750 import www_authenticate


def unauthorized(error: str, description: str) -> Problem:
    failure = Problem(401, "Authentication required", description, "unauthorized")
    failure.headers["WWW-Authenticate"] = www_authenticate(
        error if error != "invalid_request" else None,
        description if error != "invalid_request" else None,
    )
    return failure


def not_found(what: str) -> Problem:
    return Problem(404, "Not found", f"No {what} was found that your account may see.", "not-found")


def _response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


async def _problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return _response(exc.status, exc.body(), exc.headers)


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": ".".join(str(p) for p in e["loc"] if p != "body"), "message": e["msg"]}
        for e in exc.errors()
    ]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    body = problem(422, "The request is not valid", detail, type_slug="validation", errors=errors)
    return _response(422, body)


def _routing_problem(request: Request, exc: StarletteHTTPException) -> Problem:
    if exc.status_code == 404:
        detail = (
            f"There is no endpoint at {request.url.path}. "
            "Check the path against the API description at /docs."
        )
        return Problem(404, "No such endpoint", detail, "no-such-endpoint")
    if exc.status_code == 405:
        headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
        allowed = headers.get("allow", "")
        detail = f"{request.method} is not accepted here; use {allowed or 'another method'}."
        return Problem(405, "Method not allowed", detail, "method-not-allowed")
    detail = str(exc.detail)
    return Problem(exc.status_code, "Request failed", detail, f"http-{exc.status_code}")


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    failure = _routing_problem(request, exc)
    return _response(failure.status, failure.body(), dict(exc.headers or {}))


def install(app: FastAPI) -> None:
    """Refusals as problems; a database that cannot be reached (refused, lost or
    timed-out connections) or access events that could not be written answer a 503
    problem with Retry-After, anything else a 500 problem: `policy.outages`, the same
    in every service. Nothing is answered and nothing disclosed."""
    app.add_exception_handler(Problem, _problem)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    outages.install(app, lambda _request: "api")
