"""Token, introspection, revocation, userinfo, end_session, discovery and JWKS.

Each endpoint reads the request, runs Authlib's step on the event loop (see
`identity.oauth.bridge`), then the step's queued writes and audit events, and
commits once.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Error
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from joserfc import jwt
from joserfc.errors import JoseError
from sqlalchemy import text
from starlette.responses import Response

from identity.deps import (
    KeyStoreDep,
    ServerDep,
    SessionDep,
    SettingsDep,
    StoreDep,
    source_address,
)
from identity.keys import key_set
from identity.oauth import parameters, wording
from identity.oauth.bridge import ProtocolResponse, bridged_request, run_protocol
from identity.oauth.discovery import provider_metadata
from identity.oauth.oidc import user_claims
from identity.oauth.rpinitiated import hint_names_session
from identity.oauth.server import TinpassAuthorizationServer
from identity.oauth.tokens import SIGNING_ALGORITHMS
from identity.settings import Settings
from identity.store import OAuthStore
from identity.web import csrf
from identity.web.authorize import SSO_COOKIE
from identity.web.pages import render
from identity.web.protocol import commit, protocol_context
from policy import outages
from policy.names import Claim, Scope

router = APIRouter()
Endpoint = Callable[[Request], Awaitable[Response]]
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@router.get("/.well-known/openid-configuration")
async def openid_configuration(settings: SettingsDep) -> JSONResponse:
    return JSONResponse(provider_metadata(settings))


@router.get("/.well-known/oauth-authorization-server")
async def oauth_authorization_server(settings: SettingsDep) -> JSONResponse:
    return JSONResponse(provider_metadata(settings))


@router.get("/.well-known/jwks.json")
async def jwks(keystore: KeyStoreDep) -> JSONResponse:
    return JSONResponse(await keystore.public_jwks(), headers={"Cache-Control": "max-age=60"})


async def _endpoint(
    request: Request, settings: Any, store: Any, keystore: Any, step: Any
) -> Response:
    oauth_request = await bridged_request(request, settings)
    if (invalid := parameters.invalid_parameter(oauth_request)) is not None:
        refused = parameters.error_for(invalid)
        body = {"error": refused.error, "error_description": refused.description}
        return JSONResponse(body, status_code=400, headers=NO_STORE)
    ctx = await protocol_context(request, store, settings, keystore)
    result: ProtocolResponse | None = await run_protocol(ctx, step, oauth_request)
    await commit(ctx)
    if result is None:
        return Response(status_code=204)
    return result.to_starlette(NO_STORE)


Step = Callable[[Any], Any]


def _client_endpoint(step_of: Callable[[TinpassAuthorizationServer], Step]) -> Endpoint:
    """A POST endpoint where clients authenticate (token, introspection, revocation).

    A plain Starlette endpoint, not a FastAPI route: these are the busiest endpoints,
    and what they need is fixed per process (`app.state`), so nothing is resolved per
    request. The session is the request's own, closed (rolled back unless committed)
    on the way out, as `deps.get_session` does.
    """

    async def endpoint(request: Request) -> Response:
        state = request.app.state
        if (refused := await _throttled(request, state.throttle)) is not None:
            return refused
        settings: Settings = state.settings
        async with state.sessionmaker() as session:
            store = OAuthStore(session, settings)
            step = step_of(state.oauth_server)
            return await _endpoint(request, settings, store, state.keystore, step)

    return endpoint


async def _throttled(request: Request, throttle: Any) -> Response | None:
    """The per-address limit of the endpoints that authenticate clients (429 when spent).

    It also bounds how fast failed client authentications can write audit events.
    """
    wait = await throttle.retry_after("token", source_address(request) or "unknown")
    if wait is None:
        return None
    body = {
        "error": "temporarily_unavailable",
        "error_description": f"Too many requests; retry in {wait} s.",
    }
    return JSONResponse(body, status_code=429, headers={"Retry-After": str(wait), **NO_STORE})


token = _client_endpoint(lambda server: server.create_token_response)
introspect = _client_endpoint(
    lambda server: lambda r: server.create_endpoint_response("introspection", r)
)
revoke = _client_endpoint(lambda server: lambda r: server.create_endpoint_response("revocation", r))
# Added to the application itself (`identity.app`), first: no included router to pass.
CLIENT_ENDPOINTS = {"/token": token, "/introspect": introspect, "/revoke": revoke}


@router.api_route("/userinfo", methods=["GET", "POST"])
async def userinfo(
    request: Request, settings: SettingsDep, store: StoreDep, keystore: KeyStoreDep
) -> Response:
    """OIDC Core §5.3: claims about the token's user, read fresh."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value:
        return _bearer_error(None, "An access token is required.")
    try:
        decoded = jwt.decode(
            value,
            key_set(await keystore.public_jwks()),
            algorithms=SIGNING_ALGORITHMS,
        )
    except (JoseError, ValueError):
        return _bearer_error("invalid_token", "The access token is not valid.")
    claims = decoded.claims
    known = await store.find_access(str(claims.get("jti")), dict(claims))
    if (
        known is None
        or known.is_revoked()
        or known.is_expired()
        or claims.get("iss") != settings.issuer
    ):
        return _bearer_error("invalid_token", "The access token is expired or revoked.")
    if Scope.OPENID not in str(claims.get("scope", "")).split() or not known.user_id:
        return _bearer_error("insufficient_scope", "The access token lacks the openid scope.", 403)
    subject = await store.load_subject(
        known.user_id,
        claims.get(Claim.ORG_ID),
        auth_time=int(claims.get("auth_time", 0)),
        acr="",
        amr=(),
        sid=None,
    )
    if subject is None:
        return _bearer_error("invalid_token", "The account is no longer active.")
    return JSONResponse(user_claims(subject, str(claims["scope"])), headers=NO_STORE)


def _bearer_error(error: str | None, description: str, status: int = 401) -> JSONResponse:
    challenge = 'Bearer realm="tinpass"'
    body: dict[str, str] = {"error": error or "invalid_request", "error_description": description}
    if error:
        challenge += f', error="{error}", error_description="{description}"'
    return JSONResponse(
        body, status_code=status, headers={"WWW-Authenticate": challenge, **NO_STORE}
    )


@router.api_route("/logout", methods=["GET", "POST"])
async def end_session(
    request: Request,
    settings: SettingsDep,
    store: StoreDep,
    keystore: KeyStoreDep,
    server: ServerDep,
) -> Response:
    """RP-initiated logout: immediate with a valid id_token_hint, confirmed otherwise."""
    sso = await store.active_session(request.cookies.get(SSO_COOKIE), settings.sso_idle_timeout)
    oauth_request = await bridged_request(request, settings)
    ctx = await protocol_context(request, store, settings, keystore)
    ctx.sso_session_id = sso.id if sso else None
    confirmed = request.method == "POST" and csrf.valid(
        request, settings.secret_key, oauth_request.form.get("csrf_token")
    )

    def step(req: Any) -> tuple[str, Any]:
        if (invalid := parameters.invalid_parameter(req)) is not None:
            return "error", parameters.error_for(invalid)
        try:
            validated = server.validate_endpoint_request("end_session", req)
        except OAuth2Error as error:
            return "error", wording.in_plain_words(error)
        if sso is None or confirmed or hint_names_session(validated, sso.user_id, sso.id):
            return "done", server.create_endpoint_response("end_session", validated)
        return "confirm", None

    kind, value = await run_protocol(ctx, step, oauth_request)
    await commit(ctx)
    carried = _carried_logout_parameters({**request.query_params, **oauth_request.form})
    return _logout_response(request, settings, kind, value, carried)


LOGOUT_PARAMETERS = ("id_token_hint", "post_logout_redirect_uri", "state", "client_id")


def _carried_logout_parameters(items: dict[str, Any]) -> dict[str, str]:
    """The RP's logout parameters, carried through the confirmation form."""
    return {k: str(v) for k, v in items.items() if k in LOGOUT_PARAMETERS}


def _logout_response(
    request: Request, settings: Any, kind: str, value: Any, carried: dict[str, str]
) -> Response:
    if kind == "error":
        return render(
            request,
            "message.html",
            status_code=400,
            title="Sign-out request not valid",
            message=f"{(value.description or value.error).rstrip('.')}.",
            error=True,
        )
    if kind == "confirm":
        token, new_cookie = csrf.issue(request, settings.secret_key)
        user = "your account"
        response = render(
            request,
            "logout.html",
            title="Sign out",
            csrf_token=token,
            username=user,
            carried=carried,
        )
        csrf.set_cookie(response, new_cookie, secure=settings.secure_cookies)
        return response
    response = (
        value.to_starlette()
        if value is not None
        else render(
            request,
            "message.html",
            title="You are signed out",
            message="You are signed out of TINpass. Close the browser to finish.",
        )
    )
    response.delete_cookie(SSO_COOKIE, path="/")
    return response


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request, session: SessionDep, keystore: KeyStoreDep) -> Response:
    """Ready when the database answers (within its timeouts) and a signing key is there:
    otherwise a 503 problem naming what failed. `stores` shows the Redis the rate limits
    use (`down` while they count in this process): that never makes a replica unready,
    or a Redis outage would take every replica out of the load balancer."""
    checks = {"database": "ok", "signing_key": "ok"}
    try:
        await session.execute(text("SELECT 1"))
    except Exception as error:  # readiness reports any failure
        outages.log_outage(error, "/readyz")
        checks["database"] = "unreachable"
    try:
        material = await keystore.signing_key()
    except Exception:
        checks["signing_key"] = "unavailable"
    if any(state != "ok" for state in checks.values()):
        return outages.not_ready(checks)
    body: dict[str, Any] = {"status": "ok", "signing_kid": material.kid, "time": int(time.time())}
    if (health := request.app.state.throttle.health) is not None:
        body["stores"] = {health.component: health.status()}
    return JSONResponse(body)
