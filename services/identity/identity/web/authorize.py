"""The authorization endpoint (RFC 6749 §3.1, OIDC Core §3.1.2) and the login form.

`/authorize` validates the request with Authlib first: an unknown client or an
unregistered redirect URI gets an error page, never a redirect. A request that
needs a login (no SSO session, `prompt=login`, an exceeded `max_age`) renders the
login form, which carries the authorization request back in a hidden field; a
successful login resumes it in the same transaction.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from authlib.oauth2.rfc6749 import OAuth2Error
from authlib.oidc.core.errors import LoginRequiredError
from fastapi import APIRouter, Request
from starlette.responses import Response

from identity.deps import KeyStoreDep, ServerDep, SettingsDep, StoreDep
from identity.mfa import ACR_MFA
from identity.models import SsoSession
from identity.oauth import parameters, wording
from identity.oauth.bridge import (
    BridgedRequest,
    ProtocolContext,
    bridged_request,
    run_protocol,
)
from identity.oauth.server import TinpassAuthorizationServer
from identity.settings import Settings
from identity.store import OAuthStore
from identity.store.snapshots import Subject
from identity.web import csrf, refusals
from identity.web.pages import render
from identity.web.protocol import commit, protocol_context
from policy.dbpool import autocommit_reads

router = APIRouter()

SSO_COOKIE = "tinpass_sso"


@router.get("/authorize")
async def authorize(
    request: Request,
    settings: SettingsDep,
    store: StoreDep,
    keystore: KeyStoreDep,
    server: ServerDep,
) -> Response:
    oauth_request = await bridged_request(request, settings)
    sso = await store.active_session(request.cookies.get(SSO_COOKIE), settings.sso_idle_timeout)
    if sso is None:  # no code can be issued: the step only reads (the nonce)
        await autocommit_reads(store.session)
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
    """Validate, then either show the login form, explain why a signed-in person may
    not go on (`refusals`), or issue the code; one commit."""
    subject = await _subject(ctx.store, sso, oauth_request)
    refusal = None
    if sso is not None and subject is None:
        refusal = await refusals.why(ctx.store.session, sso.user_id, _asked_org(oauth_request))
    outcome = await run_protocol(
        ctx, _authorization_step, server, oauth_request, subject, fresh, refusal is not None
    )
    kind, value = outcome
    if kind == "refused" and refusal is not None and sso is not None:
        client = oauth_request.client
        ctx.emit(
            "authorization.refused",
            user_id=sso.user_id,
            client_id=client.client_id if client else None,
            reason=refusal.reason,
        )
    await commit(ctx)
    if kind == "refused" and refusal is not None:
        return refusals.page(request, refusal, value)
    if kind == "response":
        response: Response = value.to_starlette()
        return response
    if kind == "error":
        return render(
            request,
            "message.html",
            status_code=400,
            title="This sign-in link is not valid",
            message=f"{(value.description or value.error).rstrip('.')}. "
            "Go back to the site you came from and try again.",
            error=True,
        )
    return login_page(request, ctx.settings, oauth_request.payload.datalist, value)


def _authorization_step(
    server: TinpassAuthorizationServer,
    oauth_request: BridgedRequest,
    subject: Subject | None,
    fresh: bool,
    blocked: bool = False,
) -> tuple[str, Any]:
    """Authlib's synchronous step (on the loop, `run_protocol`): it validates and issues.
    `blocked`: the signed-in person may not go on, which a page explains (with
    `prompt=none` Authlib has already answered `login_required`: no subject)."""
    if (refused := parameters.authorization_error(server, oauth_request)) is not None:
        if refused.redirect_uri:
            return "response", server.handle_error_response(oauth_request, refused)
        return "error", wording.in_plain_words(refused)
    try:
        grant = server.get_consent_grant(oauth_request, end_user=subject)
    except OAuth2Error as error:
        if error.redirect_uri:
            return "response", server.handle_error_response(oauth_request, error)
        return "error", wording.in_plain_words(error)
    if blocked and (fresh or not _prompts(oauth_request, "login")):
        client = oauth_request.client
        return "refused", client.name if client else None
    if not fresh and _needs_login(grant, subject):
        if _no_prompt(oauth_request):
            required = LoginRequiredError(redirect_uri=grant.redirect_uri)
            required.state = oauth_request.payload.state
            return "response", server.handle_error_response(oauth_request, required)
        client = oauth_request.client
        return "login", client.name if client else None
    response = server.create_authorization_response(oauth_request, grant_user=subject, grant=grant)
    return "response", response


def _prompts(oauth_request: BridgedRequest, value: str) -> bool:
    """The relying party's `prompt` parameter holds `value`."""
    return value in str(oauth_request.payload.data.get("prompt") or "").split()


def _no_prompt(oauth_request: BridgedRequest) -> bool:
    return _prompts(oauth_request, "none")


def _asked_org(oauth_request: BridgedRequest) -> str | None:
    asked = oauth_request.payload.data.get("org_id")
    return str(asked) if asked else None


def requests_mfa(data: Any) -> bool:
    """The relying party asked for multi-factor authentication (acr_values)."""
    values = str(data.get("acr_values") or "").split()
    return ACR_MFA in values or "mfa" in values


def _needs_login(grant: Any, subject: Subject | None) -> bool:
    """No session, prompt=login, an exceeded max_age, or a step-up to MFA."""
    data = grant.request.payload.data
    if subject is None or grant.prompt == "login":
        return True
    if requests_mfa(data) and subject.acr != ACR_MFA:
        return True
    max_age = data.get("max_age")
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
    return step_page(
        request,
        settings,
        "login.html",
        authorization,
        status_code=status_code,
        title="Sign in",
        client_name=client_name,
        error=error,
        username=username,
    )


def step_page(
    request: Request,
    settings: Settings,
    template: str,
    authorization: Any,
    *,
    status_code: int = 200,
    **context: Any,
) -> Response:
    """A page of the login, carrying the authorization request and a CSRF token."""
    token, new_cookie = csrf.issue(request, settings.secret_key)
    if isinstance(authorization, list):
        pairs = authorization
    else:
        pairs = [(k, v) for k, values in dict(authorization or {}).items() for v in values]
    response = render(
        request,
        template,
        status_code=status_code,
        csrf_token=token,
        authorization_request=urlencode(pairs),
        **context,
    )
    csrf.set_cookie(response, new_cookie, secure=settings.secure_cookies)
    return response
