"""The authorization endpoint (RFC 6749 §3.1, OIDC Core §3.1.2) and the login form.

`/authorize` validates the request with Authlib first: an unknown client or an
unregistered redirect URI gets an error page, never a redirect. A request that
needs a login (no SSO session, `prompt=login`, an exceeded `max_age`) renders the
login form, which carries the authorization request back in a hidden field; a
successful login resumes it in the same transaction.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from authlib.oauth2.rfc6749 import OAuth2Error
from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.responses import Response

from identity.deps import KeyStoreDep, ServerDep, SettingsDep, StoreDep
from identity.models import SsoSession, User
from identity.oauth.bridge import (
    BridgedRequest,
    ProtocolContext,
    bridged_request,
    run_protocol,
    stored_authorization_request,
)
from identity.oauth.models import Subject
from identity.oauth.server import TinpassAuthorizationServer
from identity.security import generate_secret, token_digest, verify_password_async
from identity.settings import Settings
from identity.store import OAuthStore
from identity.web import csrf
from identity.web.pages import render
from identity.web.protocol import commit, protocol_context

router = APIRouter()

SSO_COOKIE = "tinpass_sso"
GENERIC_LOGIN_ERROR = "The username or password is incorrect. Check both and try again."


@router.get("/authorize")
async def authorize(
    request: Request,
    settings: SettingsDep,
    store: StoreDep,
    keystore: KeyStoreDep,
    server: ServerDep,
) -> Response:
    oauth_request = await bridged_request(request, settings)
    sso = await store.active_session(request.cookies.get(SSO_COOKIE))
    ctx = await protocol_context(request, store, settings, keystore)
    return await resume(request, ctx, server, oauth_request, sso, fresh=False)


async def resume(
    request: Request,
    ctx: ProtocolContext,
    server: TinpassAuthorizationServer,
    oauth_request: BridgedRequest,
    sso: SsoSession | None,
    *,
    fresh: bool,
) -> Response:
    """Validate, then either show the login form or issue the code; one commit."""
    subject = await _subject(ctx.store, sso, oauth_request)
    outcome = await run_protocol(ctx, _authorization_step, server, oauth_request, subject, fresh)
    await commit(ctx)
    kind, value = outcome
    if kind == "response":
        response: Response = value.to_starlette()
        return response
    if kind == "error":
        return render(
            request,
            "message.html",
            status_code=400,
            title="This sign-in link is not valid",
            message=f"{value.description or value.error}. "
            "Go back to the site you came from and try again.",
            error=True,
        )
    return login_page(request, ctx.settings, oauth_request.payload.datalist, value)


def _authorization_step(
    server: TinpassAuthorizationServer,
    oauth_request: BridgedRequest,
    subject: Subject | None,
    fresh: bool,
) -> tuple[str, Any]:
    """Runs in the worker thread: Authlib validates and issues."""
    try:
        grant = server.get_consent_grant(oauth_request, end_user=subject)
    except OAuth2Error as error:
        if error.redirect_uri:
            return "response", server.handle_error_response(oauth_request, error)
        return "error", error
    if not fresh and _needs_login(grant, subject):
        client = oauth_request.client
        return "login", client.name if client else None
    response = server.create_authorization_response(oauth_request, grant_user=subject, grant=grant)
    return "response", response


def _needs_login(grant: Any, subject: Subject | None) -> bool:
    if subject is None or grant.prompt == "login":
        return True
    max_age = grant.request.payload.data.get("max_age")
    if max_age is not None and max_age.isdigit():
        return int(time.time()) - subject.auth_time >= int(max_age)
    return False


async def _subject(
    store: OAuthStore, sso: SsoSession | None, oauth_request: BridgedRequest
) -> Subject | None:
    if sso is None:
        return None
    return await store.load_subject(
        sso.user_id,
        oauth_request.payload.data.get("org_id"),
        auth_time=int(sso.auth_time.timestamp()),
        acr=sso.acr,
        amr=sso.amr,
        sid=sso.id,
    )


def login_page(
    request: Request,
    settings: Settings,
    authorization: Any,
    client_name: str | None,
    *,
    error: str | None = None,
    username: str = "",
    status_code: int = 200,
) -> Response:
    token, new_cookie = csrf.issue(request, settings.secret_key)
    pairs = (
        [(k, v) for k, values in dict(authorization).items() for v in values]
        if authorization
        else []
    )
    response = render(
        request,
        "login.html",
        status_code=status_code,
        title="Sign in",
        csrf_token=token,
        authorization_request=urlencode(pairs),
        client_name=client_name,
        error=error,
        username=username,
    )
    csrf.set_cookie(response, new_cookie, secure=settings.secure_cookies)
    return response


@router.get("/login")
async def login_form(request: Request, settings: SettingsDep) -> Response:
    return login_page(request, settings, None, None)


@router.post("/login")
async def login(
    request: Request,
    settings: SettingsDep,
    store: StoreDep,
    keystore: KeyStoreDep,
    server: ServerDep,
) -> Response:
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    pairs = parse_qsl(fields.get("authorization_request", ""), keep_blank_values=True)
    authorization: dict[str, list[str]] = {}
    for key, value in pairs:
        authorization.setdefault(key, []).append(value)
    username = fields.get("username", "")[:64]
    if not csrf.valid(request, settings.secret_key, fields.get("csrf_token")):
        return login_page(
            request,
            settings,
            authorization,
            None,
            username=username,
            status_code=400,
            error="This form expired or was not sent from TINpass. Please sign in again.",
        )
    ctx = await protocol_context(request, store, settings, keystore)
    user = await _check_credentials(ctx, username, fields.get("password", ""))
    if user is None:
        await commit(ctx)
        return login_page(
            request,
            settings,
            authorization,
            None,
            username=username,
            status_code=401,
            error=GENERIC_LOGIN_ERROR,
        )
    sso, cookie = await _start_session(ctx, user)
    if pairs:
        oauth_request = stored_authorization_request(pairs, settings)
        response = await resume(request, ctx, server, oauth_request, sso, fresh=True)
    else:
        await commit(ctx)
        response = render(
            request,
            "message.html",
            title="You are signed in",
            message=f"You are signed in to TINpass as {user.username}.",
        )
    response.set_cookie(
        SSO_COOKIE,
        cookie,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        max_age=settings.sso_session_ttl,
        path="/",
    )
    return response


async def _check_credentials(ctx: ProtocolContext, username: str, password: str) -> User | None:
    """Verify a password; unknown users cost the same (a dummy hash is verified)."""
    session = ctx.store.session
    user = await session.scalar(select(User).where(User.username_normalized == username.casefold()))
    usable = user is not None and user.status == "active"
    ok, new_hash = await verify_password_async(
        password, user.password_hash if usable and user else None
    )
    if not ok or user is None:
        ctx.emit("login.failed", outcome="failure", reason="invalid_credentials", username=username)
        return None
    if new_hash:
        user.password_hash = new_hash
    user.last_login_at = datetime.now(UTC)
    ctx.emit("login.succeeded", user_id=user.id, amr=["pwd"])
    return user


async def _start_session(ctx: ProtocolContext, user: User) -> tuple[SsoSession, str]:
    cookie = generate_secret()
    now = datetime.now(UTC)
    sso = SsoSession(
        cookie_digest=token_digest(cookie),
        user_id=user.id,
        auth_time=now,
        amr=["pwd"],
        acr="urn:tinpass:acr:pwd",
        expires_at=now + timedelta(seconds=ctx.settings.sso_session_ttl),
    )
    ctx.store.session.add(sso)
    await ctx.store.session.flush()
    return sso, cookie
