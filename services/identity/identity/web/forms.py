"""Plain server-rendered forms: labelled fields, errors next to the field at fault.

Every posted form goes through the one input rule (`policy.inputs`): a field with
a control character or longer than its column is refused (`FormRejected`, a 400
page naming the field) before any handler sees it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from identity.models import Organization, User
from identity.settings import Settings
from identity.web import csrf
from identity.web.pages import render
from policy.inputs import InvalidInput, column_length, first_invalid

LONG_SECRET = 1024  # passwords: the password policy says how long they may be, once read
LIMITS = {
    "username": column_length(User.username),
    "email": column_length(User.email),
    "login": column_length(User.email),  # a username or an e-mail address
    "given_name": column_length(User.given_name),
    "family_name": column_length(User.family_name),
    "org_name": column_length(Organization.name),
    "name": column_length(Organization.name),
    "street": column_length(Organization.street),
    "city": column_length(Organization.city),
    "state": 40,  # checked as two letters after trimming
    "postal_code": 40,  # checked as a ZIP code after trimming
    "phone": column_length(Organization.phone),
    "tin": 20,
    "tax_ids": 20,
    "npis": 400,
    "password": LONG_SECRET,
    "current": LONG_SECRET,
    "confirm": LONG_SECRET,
    "reason": 2000,
    "jwks": 65_536,
    "authorization_request": 16_384,
}
MULTILINE = ("reason", "jwks")
DEFAULT_LIMIT = 512
LABELS = {"org_name": "Organization's legal name", "login": "Username or e-mail"}


class FormRejected(Exception):
    """A posted field breaks the input rule."""

    def __init__(self, invalid: InvalidInput) -> None:
        super().__init__(invalid.message)
        self.field = invalid.field
        label = LABELS.get(invalid.field, invalid.field.replace("_", " ").capitalize())
        self.message = f"The field “{label}” {invalid.reason}."


def checked(form: FormData) -> FormData:
    """The form, when every field keeps the input rule; else FormRejected."""
    pairs = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    if (invalid := first_invalid(pairs, LIMITS, DEFAULT_LIMIT, multiline=MULTILINE)) is not None:
        raise FormRejected(invalid)
    return form


def rejected_page(request: Request, rejected: FormRejected) -> Response:
    return render(
        request,
        "message.html",
        status_code=400,
        title="This form could not be accepted",
        error=True,
        message=f"{rejected.message} Go back, correct it and send the form again.",
    )


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
    form = checked(await request.form())
    return {k: v for k, v in form.items() if isinstance(v, str)}
