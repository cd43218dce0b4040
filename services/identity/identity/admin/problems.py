"""RFC 9457 problems of the admin API."""

from __future__ import annotations

from fastapi import Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from policy import PROBLEM_JSON, problem
from policy.problems import Problem


async def handle(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return JSONResponse(
        exc.body(), status_code=exc.status, media_type=PROBLEM_JSON, headers=exc.headers
    )


async def handle_validation(request: Request, exc: Exception) -> JSONResponse:
    """A request body or query the API cannot read: a 422 problem naming each field."""
    assert isinstance(exc, RequestValidationError)
    errors = {
        ".".join(str(p) for p in error.get("loc", ())[1:]) or "body": error.get("msg", "")
        for error in exc.errors()
    }
    detail = "; ".join(f"{field}: {message}" for field, message in errors.items())
    body = problem(422, "The request is not valid", detail, type_slug="validation", errors=errors)
    return JSONResponse(body, status_code=422, media_type=PROBLEM_JSON)


API_PREFIX = "/api/"
HTTP_TITLES = {400: "Bad request", 404: "No such endpoint", 405: "Method not allowed"}


def _http_detail(request: Request, exc: StarletteHTTPException) -> str:
    if exc.status_code == 404:
        return f"There is no endpoint at {request.url.path}; the API is described at /docs."
    if exc.status_code == 405:
        allowed = {k.lower(): v for k, v in (exc.headers or {}).items()}.get("allow", "")
        return f"{request.method} is not accepted here; use {allowed or 'another method'}."
    if exc.status_code == 400 and "parsing the body" in str(exc.detail):
        return "The body is not valid JSON (UTF-8); send a JSON object."
    return str(exc.detail)


async def handle_http(request: Request, exc: Exception) -> Response:
    """Routing and body-parsing errors: an RFC 9457 problem under /api/ (the pages
    and OAuth endpoints keep their own error shapes)."""
    assert isinstance(exc, StarletteHTTPException)
    if not request.url.path.startswith(API_PREFIX):
        return await http_exception_handler(request, exc)
    status = exc.status_code
    slug = {404: "no-such-endpoint", 405: "method-not-allowed"}.get(status, f"http-{status}")
    body = problem(
        status,
        HTTP_TITLES.get(status, "Request failed"),
        _http_detail(request, exc),
        type_slug=slug,
    )
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=exc.headers)
