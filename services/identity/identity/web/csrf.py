"""CSRF protection for every form: a signed double-submit token.

The browser holds a random `tinpass_csrf` cookie (HttpOnly, SameSite=Lax); each
form carries HMAC-SHA256(secret key, cookie). A cross-site page can neither read
the cookie nor compute the token. Comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

COOKIE = "tinpass_csrf"


def _sign(secret_key: str, value: str) -> str:
    return hmac.new(secret_key.encode(), value.encode(), hashlib.sha256).hexdigest()


def issue(request: Request, secret_key: str) -> tuple[str, str | None]:
    """(form token, new cookie value or None when the browser already has one)."""
    cookie = request.cookies.get(COOKIE)
    if cookie and len(cookie) >= 32:
        return _sign(secret_key, cookie), None
    cookie = secrets.token_urlsafe(32)
    return _sign(secret_key, cookie), cookie


def set_cookie(response: Response, value: str | None, *, secure: bool) -> None:
    if value:
        response.set_cookie(COOKIE, value, httponly=True, samesite="lax", secure=secure, path="/")


def valid(request: Request, secret_key: str, submitted: str | None) -> bool:
    cookie = request.cookies.get(COOKIE)
    if not cookie or not submitted:
        return False
    return hmac.compare_digest(_sign(secret_key, cookie), submitted)
