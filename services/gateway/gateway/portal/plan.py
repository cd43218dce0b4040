"""The portal asks the plan's provider-data services, with the signed-in person's token.

Calls go over the gateway's own upstream connection pools to the eligibility and
claims services, with the access token kept in the session; the services verify
it again and decide by TIN. An access token about to expire is refreshed first
with the refresh token (Authlib; the new pair replaces the old in the session);
a refused refresh means the SSO session ended, so the portal session ends too.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import httpx2
import orjson
from authlib.integrations.base_client import OAuthError
from starlette.requests import Request

from gateway.portal import oidc
from gateway.upstream import Pool, UpstreamBusy, UpstreamTimeout, UpstreamUnreachable

REFRESH_MARGIN = 30


class SignedOut(Exception):
    """The portal session has no usable tokens any more: sign in again."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    retry_after: str | None = None  # a 503's Retry-After, passed on to the page

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def detail(self) -> str:
        if isinstance(self.body, dict) and isinstance(self.body.get("detail"), str):
            return self.body["detail"]
        return ""


def store_tokens(session: dict[str, Any], token: dict[str, Any]) -> None:
    """Keep what the portal needs from a token response, server-side only."""
    previous = session.get("tokens") or {}
    expires_in = int(token.get("expires_in") or 0)
    session["tokens"] = {
        "access_token": token["access_token"],
        "refresh_token": token.get("refresh_token") or previous.get("refresh_token"),
        "id_token": token.get("id_token") or previous.get("id_token"),
        "expires_at": int(token.get("expires_at") or time.time() + expires_in),
    }


async def access_token(request: Request) -> str:
    session: dict[str, Any] = request.scope["session"]
    tokens = session.get("tokens")
    if not isinstance(tokens, dict):
        raise SignedOut
    if tokens["expires_at"] - REFRESH_MARGIN > time.time():
        return str(tokens["access_token"])
    if not tokens.get("refresh_token"):
        raise SignedOut
    client = oidc.tinpass(request)
    try:
        fresh = await client.fetch_access_token(
            grant_type="refresh_token", refresh_token=tokens["refresh_token"]
        )
    except (OAuthError, httpx.HTTPError, httpx2.HTTPError) as error:
        raise SignedOut from error
    store_tokens(session, fresh)
    return str(fresh["access_token"])


async def call(
    request: Request,
    service: str,
    method: str,
    path: str,
    *,
    json: Any = None,
    params: dict[str, str] | None = None,
) -> Answer:
    """One call to `eligibility` or `claims`; 502/503/504 answers when the service fails."""
    token = await access_token(request)
    headers = [("Authorization", f"Bearer {token}"), ("X-Request-ID", str(uuid.uuid4()))]
    body = b""
    if json is not None:
        body = orjson.dumps(json)
        headers.append(("Content-Type", "application/json"))
    target = quote(path) + (f"?{urlencode(params)}" if params else "")
    pool: Pool = request.app.state.upstreams[service]
    try:
        reply = await pool.exchange(
            method, target, headers, body, request.app.state.settings.upstream_deadline
        )
    except UpstreamBusy:
        return Answer(503, None, str(request.app.state.settings.pool_retry_after))
    except UpstreamTimeout:
        return Answer(504, None)
    except UpstreamUnreachable:
        return Answer(502, None)
    if reply.status == 401:
        raise SignedOut
    try:
        answer = orjson.loads(reply.body)
    except orjson.JSONDecodeError:
        answer = None
    wait = next((v for k, v in reply.headers if k.lower() == b"retry-after"), None)
    return Answer(reply.status, answer, wait.decode("latin-1") if wait else None)
