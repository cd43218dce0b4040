"""The errors directory services raise for the admin API and console: status, title,
detail and an RFC 9457 type slug (rendered by `identity.admin.problems`)."""

from __future__ import annotations

from typing import Any


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
