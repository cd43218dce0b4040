"""Server-rendered pages (Jinja2, autoescaped)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from starlette.requests import Request
from starlette.responses import Response

from identity.web.times import when

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))
# Each template is compiled once, when first used; without this Jinja2 would stat its
# file on every render to see whether it changed (templates change only with a release).
TEMPLATES.env.auto_reload = False
TEMPLATES.env.filters["when"] = when  # {{ moment | when }}: a <time> element


def render(request: Request, name: str, *, status_code: int = 200, **context: Any) -> Response:
    response = TEMPLATES.TemplateResponse(request, name, context, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return response
