"""CSRF protection for every portal form: a synchronizer token kept in the session.

The token is random, lives only in the server-side session, and is rendered into
each form as a hidden field; a POST without the matching value is refused. A
cross-site page can neither read the token nor guess it (compared in constant time).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

FIELD = "csrf_token"


def token(session: dict[str, Any]) -> str:
    """The session's CSRF token, made on first use."""
    value = session.get("csrf")
    if not isinstance(value, str):
        value = secrets.token_urlsafe(32)
        session["csrf"] = value
    return value


def valid(session: dict[str, Any], submitted: Any) -> bool:
    expected = session.get("csrf")
    if not isinstance(expected, str) or not isinstance(submitted, str) or not submitted:
        return False
    return hmac.compare_digest(expected.encode(), submitted.encode())
