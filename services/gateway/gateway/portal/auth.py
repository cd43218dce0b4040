"""Signing in and out of the portal with TINpass.

"Sign in with TINpass" is the OpenID Connect authorization code flow with PKCE
(S256), state and nonce, run by Authlib's Starlette client; its state and code
verifier live in the server-side session. After the callback the portal keeps the
tokens server-side, takes the person's organization and TINs from the access token
(verified with libs/policy, like every resource server) and the name from the ID
token, and gives the session a new id.

Logout (a CSRF-protected POST) ends the portal session and sends the browser to
identity's end_session endpoint with the ID token as hint (RP-initiated logout),
which ends the SSO session and notifies the other portals by back-channel.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import httpx2
from authlib.integrations.base_client import OAuthError
from authlib.integrations.starlette_client import OAuth
from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from gateway.portal import csrf, oidc
from gateway.portal.backchannel import InvalidLogoutToken, LogoutTokenVerifier
from gateway.portal.middleware import PortalSession
from gateway.portal.plan import store_tokens
from gateway.portal.sessions import SessionStoreUnavailable
from gateway.portal.views import render
from gateway.settings import Settings
from policy import InvalidToken, Principal
from policy.names import Claim, Scope

# Authlib's client speaks httpx2 (httpx when that is missing): either may fail.
NETWORK_ERRORS = (httpx.HTTPError, httpx2.HTTPError)
SCOPE = " ".join(
    (
        Scope.OPENID,
        Scope.PROFILE,
        Scope.EMAIL,
        Scope.OFFLINE_ACCESS,
        Scope.ELIGIBILITY_READ,
        Scope.CLAIMS_READ,
    )
)
log = logging.getLogger(__name__)
router = APIRouter(prefix="/portal")


def oauth_registry(settings: Settings) -> OAuth:
    oauth = OAuth()
    oauth.register(
        "tinpass",
        client_id=settings.portal_client_id,
        client_secret=settings.portal_client_secret,
        server_metadata_url=settings.issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={
            "scope": SCOPE,
            "code_challenge_method": "S256",
            "token_endpoint_auth_method": "client_secret_basic",
            "timeout": 10,
        },
    )
    return oauth


def portal_session(request: Request) -> PortalSession:
    session: PortalSession = request.scope["portal.session"]
    return session


@router.get("/login")
async def login(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    client = oidc.tinpass(request)
    try:
        response: Response = await client.authorize_redirect(
            request,
            settings.portal_base_url + "/portal/callback",
            resource=settings.audience,  # RFC 8707: a token for this plan's APIs only
        )
    except NETWORK_ERRORS:
        return _tinpass_unreachable(request)
    return response


def _tinpass_unreachable(request: Request) -> Response:
    return render(
        request,
        "message.html",
        "TINpass cannot be reached",
        status_code=503,
        message="TINpass, where you sign in, does not answer right now. Try again in a few "
        "minutes.",
    )


@router.get("/callback")
async def callback(request: Request) -> Response:
    client = oidc.tinpass(request)
    try:
        token: dict[str, Any] = await client.authorize_access_token(request)
        principal = await request.app.state.verifier.verify(token["access_token"])
    except NETWORK_ERRORS:
        return _tinpass_unreachable(request)
    except (OAuthError, InvalidToken) as error:
        reason = getattr(error, "error", type(error).__name__)
        log.info("portal sign-in failed: %s", reason)
        return _sign_in_failed(request, reason)
    identity = dict(token.get("userinfo") or {})
    session = portal_session(request)
    session.data.clear()
    session.data.update(
        sub=principal.subject, sid=identity.get(Claim.SID), user=_user(principal, identity)
    )
    store_tokens(session.data, token)
    session.renew()
    log.info("session.started client=%s sid=%s", principal.client_id, identity.get(Claim.SID))
    return RedirectResponse("/portal/", status_code=303)


def _sign_in_failed(request: Request, reason: str) -> Response:
    settings: Settings = request.app.state.settings
    if reason in {"access_denied", "login_required"}:  # TINpass would not let the account in
        message = (
            "TINpass did not let your account into this portal. Your organization may still "
            f"be waiting for verification by TINpass staff. Open TINpass at "
            f"{settings.issuer.rstrip('/')}/ and sign in there to see why, then try again."
        )
    else:
        message = "TINpass did not complete the sign-in. Please try again."
    return render(
        request,
        "message.html",
        "Sign-in did not complete",
        status_code=400,
        message=message,
        retry=True,
    )


def _user(principal: Principal, identity: dict[str, Any]) -> dict[str, Any]:
    """Who signed in: the name from the ID token; organizations, TINs, roles from the
    access token (one organization, or several with `orgs`)."""
    fallback_name = principal.claims.get(Claim.ORG_NAME) or identity.get(Claim.ORG_NAME)
    orgs: list[dict[str, Any]] = [
        {
            "id": org.id,
            "name": org.name or fallback_name or org.id,
            "tax_ids": sorted(org.tax_ids),
            "roles": sorted(org.roles),
        }
        for org in principal.orgs
    ]
    return {
        "name": identity.get("name") or identity.get("preferred_username") or "",
        "username": identity.get("preferred_username") or "",
        "email": identity.get("email") or "",
        "orgs": orgs,
        "org_name": ", ".join(str(org["name"]) for org in orgs),
        "tax_ids": sorted(principal.tax_ids),
        "roles": sorted(principal.roles),
    }


@router.post("/logout")
async def logout(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    session = portal_session(request)
    async with request.form() as form:
        if not csrf.valid(session.data, form.get(csrf.FIELD)):
            return render(
                request,
                "message.html",
                "Please try again",
                status_code=403,
                message="This form expired. Reload the page and sign out again.",
            )
    id_token = (session.data.get("tokens") or {}).get("id_token")
    session.end()
    log.info("session.ended reason=logout sid=%s", session.data.get("sid"))
    if not id_token:
        return RedirectResponse("/portal/", status_code=303)
    client = oidc.tinpass(request)
    try:
        ending = await client.create_logout_url(
            post_logout_redirect_uri=settings.portal_base_url + "/portal/signed-out",
            id_token_hint=id_token,
        )
    except NETWORK_ERRORS:
        return _tinpass_unreachable(request)
    return RedirectResponse(ending["url"], status_code=303)


@router.get("/signed-out")
async def signed_out(request: Request) -> Response:
    return render(request, "signed_out.html", "Signed out")


@router.post("/backchannel-logout")
async def backchannel_logout(request: Request) -> Response:
    """OpenID Connect Back-Channel Logout 1.0 §2.5: end the sessions the token names."""
    headers = {"Cache-Control": "no-store"}
    async with request.form() as form:
        token = form.get("logout_token")
    if not isinstance(token, str) or not token:
        return _logout_error("the logout_token parameter is missing", headers)
    try:
        named = await _logout_verifier(request).verify(token)
    except InvalidLogoutToken as error:
        log.info("back-channel logout refused: %s", error)
        return _logout_error(str(error), headers)
    store = request.app.state.portal_sessions
    try:
        ended = await store.end_by_sid(named.sid) if named.sid else 0
        if named.sid is None and named.sub:
            ended = await store.end_by_subject(named.sub)
    except SessionStoreUnavailable as error:  # identity delivers it again later
        body = {"error": "temporarily_unavailable", "error_description": str(error)}
        headers["Retry-After"] = str(error.retry_after)
        return JSONResponse(body, status_code=503, headers=headers)
    log.info("session.ended reason=backchannel_logout count=%d", ended)
    return Response(status_code=200, headers=headers)


def _logout_verifier(request: Request) -> LogoutTokenVerifier:
    """Made on first use; it shares the gateway's cached JWKS (libs/policy)."""
    state = request.app.state
    if getattr(state, "portal_logout_verifier", None) is None:
        settings: Settings = state.settings
        state.portal_logout_verifier = LogoutTokenVerifier(
            state.verifier.jwks, settings.issuer, settings.portal_client_id
        )
    verifier: LogoutTokenVerifier = state.portal_logout_verifier
    return verifier


def _logout_error(description: str, headers: dict[str, str]) -> Response:
    body = {"error": "invalid_request", "error_description": description}
    return JSONResponse(body, status_code=400, headers=headers)
