"""RFC 9457 problems of the admin API."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from policy import PROBLEM_JSON, problem


class AdminProblem(Exception):
    def __init__(
        self, status: int, title: str, detail: str, type_slug: str, **extensions: Any
    ) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.type_slug = status, title, detail, type_slug
        self.extensions = extensions
        self.headers: dict[str, str] = {}


def not_found(what: str) -> AdminProblem:
    return AdminProblem(404, "Not found", f"No {what} was found that you administer.", "not-found")


def conflict(detail: str, slug: str) -> AdminProblem:
    return AdminProblem(409, "Not possible", detail, slug)


def invalid(detail: str, **extensions: Any) -> AdminProblem:
    return AdminProblem(422, "The request is not valid", detail, "validation", **extensions)


async def handle(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AdminProblem)
    body = problem(exc.status, exc.title, exc.detail, type_slug=exc.type_slug, **exc.extensions)
    return JSONResponse(body, status_code=exc.status, media_type=PROBLEM_JSON, headers=exc.headers)


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
