"""Post/redirect/get for forms whose answer is a page about what was just done
(registration's "check your e-mail", an invitation's welcome).

The POST commits, then answers 303 to a GET page; what that page shows travels in a
short-lived cookie scoped to the page's path, signed with the service's secret key
(HMAC-SHA256, compared in constant time). Reloading the page shows it again and
sends nothing; the form is never sent twice by a reload. A missing, expired or
tampered cookie gives None, and the page then says something general instead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse

COOKIE = "tinpass_done"
TTL = 15 * 60


def _sign(secret_key: str, body: str) -> str:
    return hmac.new(secret_key.encode(), f"after_post|{body}".encode(), hashlib.sha256).hexdigest()


def redirect(path: str, data: dict[str, Any], *, secret_key: str, secure: bool) -> RedirectResponse:
    """A 303 to `path`, carrying `data` (small, JSON) to that page only."""
    payload = json.dumps({"path": path, "until": int(time.time()) + TTL, "data": data})
    body = base64.urlsafe_b64encode(payload.encode()).decode()
    response = RedirectResponse(path, status_code=303)
    response.set_cookie(
        COOKIE,
        f"{body}.{_sign(secret_key, body)}",
        max_age=TTL,
        path=path,
        httponly=True,
        samesite="lax",
        secure=secure,
    )
    return response


def read(request: Request, secret_key: str) -> dict[str, Any] | None:
    """What the POST left for this page, or None."""
    value = request.cookies.get(COOKIE, "")
    body, _, signature = value.rpartition(".")
    if not body or not hmac.compare_digest(_sign(secret_key, body), signature):
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(body.encode()))
    except ValueError:
        return None
    if payload.get("path") != request.url.path or payload.get("until", 0) < time.time():
        return None
    data = payload.get("data")
    return data if isinstance(data, dict) else None
