"""CSRF protection for every form: a signed double-submit token.

The browser holds a random `tinpass_csrf` cookie (HttpOnly, SameSite=Lax); each
form carries HMAC-SHA256(secret key, cookie). A cross-site page can neither read
the cookie nor compute the token. Comparison is constant-time.

The console's forms carry a single-use token instead (`issue_once`): a random
nonce and an expiry, signed with the cookie. `valid` accepts it as a CSRF token
like the plain one; `once_valid` accepts only it, and `web.form_tokens` records
its use, so a replayed form is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from starlette.requests import Request
from starlette.responses import Response

COOKIE = "tinpass_csrf"
ONCE_TTL = 12 * 60 * 60  # a console page left open through a working day


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
    if submitted.count(".") == 2:
        return once_valid(request, secret_key, submitted)
    return hmac.compare_digest(_sign(secret_key, cookie), submitted)


def issue_once(request: Request, secret_key: str) -> tuple[str, str | None]:
    """(single-use form token, new cookie value or None): `nonce.expiry.signature`."""
    _, new_cookie = issue(request, secret_key)
    return once_token(secret_key, new_cookie or request.cookies.get(COOKIE, "")), new_cookie


def once_token(secret_key: str, cookie: str) -> str:
    """A new single-use token for the browser holding `cookie`."""
    nonce, expiry = secrets.token_urlsafe(18), str(int(time.time()) + ONCE_TTL)
    return f"{nonce}.{expiry}.{_sign(secret_key, f'{cookie}|{nonce}|{expiry}')}"


def once_expiry(token: str) -> int:
    """The Unix time a well-formed single-use token expires at."""
    return int(token.split(".")[1])


def once_valid(request: Request, secret_key: str, submitted: str | None) -> bool:
    """A single-use token this browser was given, unexpired (its use is not checked here)."""
    cookie = request.cookies.get(COOKIE)
    if not cookie or not submitted or submitted.count(".") != 2:
        return False
    nonce, expiry, signature = submitted.split(".")
    if not expiry.isdigit() or int(expiry) < time.time():
        return False
    return hmac.compare_digest(_sign(secret_key, f"{cookie}|{nonce}|{expiry}"), signature)
