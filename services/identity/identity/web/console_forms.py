"""A console form sent back with mistakes: the values as typed and each mistake in
plain words, beside its field (the page is shown again, status 422).

`FormState` is what the templates' field macros (`_fields.html`) read: which form
was sent, its values, and its errors by field name. A service refusal names its
field (`field=`) or fields (`errors=`); the few whose wording is the API's are
said here for a person at a desk instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from policy.problems import Problem

# Service wording meant for API callers, said in a form's words instead.
PLAIN = {
    "attest": "Tick the box to attest that your organization owns this Tax ID.",
    "role": "Choose a role: subscriber or administrator.",
    "jwks": 'Paste the public keys as a JWKS in JSON, like {"keys": [...]}.',
}
NOT_VALID = "Check this field."


@dataclass
class FormState:
    form: str = ""
    values: dict[str, list[str]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    message: str = ""  # a refusal not about one field, shown above the form

    def of(self, form: str) -> bool:
        return self.form == form

    def error(self, form: str, name: str) -> str:
        return self.errors.get(name, "") if self.form == form else ""

    def value(self, form: str, name: str, default: Any = "") -> Any:
        if self.form != form:
            return default
        values = self.values.get(name) or [""]
        return str(values[0])

    def chosen(self, form: str, name: str, value: str, default: bool = False) -> bool:
        """Whether a checkbox or option is chosen: as sent, else as stored."""
        if self.form != form:
            return default
        return value in self.values.get(name, [])

    def first_error(self) -> str:
        return next(iter(self.errors), "")


def state_of(form: str, fields: dict[str, list[str]], problem: Problem) -> FormState:
    """The form again, from a refusal: its mistakes by field, or one message above."""
    values = {k: v for k, v in fields.items() if k != "csrf_token"}
    errors: dict[str, str] = {}
    extensions = problem.extensions
    if isinstance(extensions.get("errors"), dict):
        errors = {str(k): str(v) for k, v in extensions["errors"].items()}
    elif isinstance(extensions.get("field"), str):
        errors = {extensions["field"]: problem.detail}
    errors = {k: PLAIN.get(k, v) or NOT_VALID for k, v in errors.items()}
    return FormState(form, values, errors, "" if errors else problem.detail)
