"""Plain server-rendered forms: labelled fields, errors next to the field at fault."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from identity.settings import Settings
from identity.web import csrf
from identity.web.pages import render


@dataclass
class Field:
    name: str
    label: str
    type: str = "text"
    autocomplete: str = "off"
    value: str = ""
    errors: list[str] = field(default_factory=list)


def form_page(
    request: Request,
    settings: Settings,
    *,
    title: str,
    action: str,
    fields: list[Field],
    submit: str,
    status_code: int = 200,
    **context: Any,
) -> Response:
    token, new_cookie = csrf.issue(request, settings.secret_key)
    context.setdefault("hidden", {})
    response = render(
        request,
        "form.html",
        status_code=status_code,
        title=title,
        action=action,
        fields=fields,
        submit=submit,
        csrf_token=token,
        **context,
    )
    csrf.set_cookie(response, new_cookie, secure=settings.secure_cookies)
    return response


async def posted(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}
