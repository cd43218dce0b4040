"""Back to the page that asked for sign-in.

A page that needs a signed-in person redirects to `/login?next=<its path>`. The
sign-in page keeps that path in a short-lived cookie (HttpOnly, SameSite=Lax,
only for /login, so it lasts through the two-step pages without riding in their
forms); once signed in, without an authorization request to resume, the person is
sent there. Only a same-site relative path is accepted (`/...`, never `//host`,
a scheme, a backslash or a control character): no open redirect.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from starlette.requests import Request
from starlette.responses import Response

COOKIE = "tinpass_return"
TTL = 30 * 60
MAX_LENGTH = 512


def safe_path(value: str | None) -> str | None:
    """`value` when it is a path on this site (with its query), else None."""
    if not value or len(value) > MAX_LENGTH or not value.startswith("/"):
        return None
    if value.startswith("//") or "\\" in value or any(ord(c) < 0x21 or c == "\x7f" for c in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return None
    return value


def login_url(path: str) -> str:
    """The sign-in page that brings the person back to `path` afterwards."""
    return f"/login?next={quote(path, safe='/')}" if safe_path(path) else "/login"


def remember(request: Request, response: Response, *, secure: bool) -> None:
    """On the sign-in page: keep `next` when it is safe; forget an older one if not."""
    wanted = safe_path(request.query_params.get("next"))
    if wanted:
        response.set_cookie(
            COOKIE, wanted, max_age=TTL, httponly=True, samesite="lax", secure=secure, path="/login"
        )
    elif COOKIE in request.cookies:
        forget(response)


def remembered(request: Request) -> str | None:
    return safe_path(request.cookies.get(COOKIE))


def forget(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/login")
