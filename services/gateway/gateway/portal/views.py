"""Rendering portal pages: Jinja2 templates with autoescaping; the one script is
identity's /static/time.js (times in the viewer's time zone), no inline script."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from gateway.portal import csrf, labels
from gateway.portal.labels import format_tin
from policy.times import time_element

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))


__all__ = ["format_tin", "render", "templates"]

# Every page names fields and words values through labels.py (macros.html's `show` too).
templates.env.filters["tin"] = format_tin
templates.env.filters["label"] = labels.label
templates.env.filters["code"] = labels.code
templates.env.filters["dollars"] = labels.dollars
templates.env.filters["day"] = labels.day
templates.env.filters["value"] = labels.value
# `{{ moment | when }}`: a <time> element; identity's /static/time.js (the one script
# the portal's CSP allows) shows it in the viewer's time zone.
templates.env.filters["when"] = lambda value, empty="": Markup(time_element(value, empty))  # noqa: S704


def render(
    request: Request, template: str, title: str, *, status_code: int = 200, **context: Any
) -> Response:
    session: dict[str, Any] = request.scope.get("session", {})
    settings = request.app.state.settings
    values = {
        "title": title,
        "plan_name": settings.plan_name,
        "plan_contact": settings.plan_contact,
        "issuer": settings.issuer.rstrip("/"),
        "user": session.get("user"),
        "csrf_token": csrf.token(session) if session.get("user") else "",
        **context,
    }
    return templates.TemplateResponse(request, template, values, status_code=status_code)
