"""Server-rendered pages (Jinja2, autoescaped)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from policy.times import time_element

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))
# Each template is compiled once, when first used; without this Jinja2 would stat its
# file on every render to see whether it changed (templates change only with a release).
TEMPLATES.env.auto_reload = False


def when(value: Any, empty: str = "") -> Markup:
    """`{{ moment | when }}`: a `<time>` element, readable UTC text that /static/time.js
    shows in the viewer's time zone (`{{ d | when("never") }}` for a missing one)."""
    return Markup(time_element(value, empty))  # noqa: S704 (time_element escapes)


TEMPLATES.env.filters["when"] = when
TEMPLATES.env.filters["pair"] = lambda value: (value, value)  # a checkbox's value and text


def render(request: Request, name: str, *, status_code: int = 200, **context: Any) -> Response:
    response = TEMPLATES.TemplateResponse(request, name, context, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return response
