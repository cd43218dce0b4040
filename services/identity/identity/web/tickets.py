"""Signed, short-lived tickets carried between the steps of a login.

A ticket says what the previous step proved (for example: this user's password
was right) and is bound to the browser's CSRF cookie, so a ticket copied to
another browser is worthless. HMAC-SHA256 under the settings' secret key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from starlette.requests import Request

from identity.web.csrf import COOKIE


def _mac(secret_key: str, body: bytes) -> str:
    return hmac.new(secret_key.encode(), body, hashlib.sha256).hexdigest()


def issue(request: Request, secret_key: str, purpose: str, ttl: int, **data: Any) -> str:
    payload = {
        "p": purpose,
        "exp": int(time.time()) + ttl,
        "b": request.cookies.get(COOKIE, ""),
        **data,
    }
    body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode())
    return body.decode() + "." + _mac(secret_key, body)


def read(
    request: Request, secret_key: str, purpose: str, ticket: str | None
) -> dict[str, Any] | None:
    """The ticket's data when it is genuine, unexpired, of this purpose and this browser's."""
    if not ticket or "." not in ticket:
        return None
    body, _, mac = ticket.rpartition(".")
    if not hmac.compare_digest(_mac(secret_key, body.encode()), mac):
        return None
    try:
        payload: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body.encode()))
    except ValueError:
        return None
    cookie = request.cookies.get(COOKIE, "")
    if (
        payload.get("p") != purpose
        or payload.get("exp", 0) < time.time()
        or payload.get("b") != cookie
    ):
        return None
    return payload
