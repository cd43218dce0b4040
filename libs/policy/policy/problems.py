"""RFC 9457 problem details, with a stable `type` URI per kind of problem."""

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
