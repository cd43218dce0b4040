"""RFC 9457 problem details, with a stable `type` URI per kind of problem.

`problem` builds a body; `Problem` is the one exception every service raises for a
refusal it answers as a problem (each service's exception handler renders
`Problem.body()` with its status and headers)."""

from __future__ import annotations

from typing import Any

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://tinpass.dev/problems/"


def problem(
    status: int, title: str, detail: str, *, type_slug: str, **extensions: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": TYPE_BASE + type_slug,
        "title": title,
        "status": status,
        "detail": detail,
    }
    for key, value in extensions.items():
        if key not in body:
            body[key] = value
    return body


class Problem(Exception):
    """A refusal: status, title, a detail a person can act on, an RFC 9457 type slug,
    extension members, and response headers (e.g. `WWW-Authenticate`)."""

    def __init__(
        self, status: int, title: str, detail: str, type_slug: str, **extensions: Any
    ) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.type_slug = status, title, detail, type_slug
        self.extensions = extensions
        self.headers: dict[str, str] = {}

    def body(self) -> dict[str, Any]:
        return problem(
            self.status, self.title, self.detail, type_slug=self.type_slug, **self.extensions
        )
