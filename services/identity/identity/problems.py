"""The refusals directory services raise for the admin API and console: the one
problem type (`policy.problems.Problem`), rendered by `identity.admin.problems`."""

from __future__ import annotations

from typing import Any

from policy.problems import Problem


def not_found(what: str) -> Problem:
    return Problem(404, "Not found", f"No {what} was found that you administer.", "not-found")


def conflict(detail: str, slug: str) -> Problem:
    return Problem(409, "Not possible", detail, slug)


def invalid(detail: str, **extensions: Any) -> Problem:
    return Problem(422, "The request is not valid", detail, "validation", **extensions)
