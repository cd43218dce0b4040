"""Logging in: password, then a second factor when one is needed, then the SSO session.

Each step is a small form (CSRF-protected) that carries the authorization request
onward; a signed ticket bound to the browser says what the previous step proved.
A second factor is needed when the user has enrolled one, when an organization
of theirs requires it (then an unenrolled user enrolls right here), or when the
relying party asks for it with `acr_values`. Every failure answers the same
message, whether the username exists, the password was wrong or the account is
locked; unknown users cost a password hash all the same.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.responses import RedirectResponse, Response

from identity import accounts, mfa
from identity.deps import KeyStoreDep, ServerDep, SettingsDep, StoreDep, ThrottleDep, source_address
from identity.models import SsoSession, User
from identity.oauth.bridge import ProtocolContext, stored_authorization_request
from identity.oauth.server import TinpassAuthorizationServer
from identity.security import generate_secret, token_digest, verify_password_async
from identity.settings import Settings
from identity.throttle import Throttle
from identity.web import csrf, return_to, tickets
from identity.web.authorize import SSO_COOKIE, login_page, requests_mfa, resume, step_page
from identity.web.forms import FormRejected, checked
from identity.web.pages import render
from identity.web.protocol import commit, protocol_context
from policy import metrics
from policy.dbpool import autocommit_reads

router = APIRouter()
GENERIC_LOGIN_ERROR = (
    "The username or password is incorrect, or the account is locked after too many attempts. "
    "Check both and try again later, or reset your password."
)
EXPIRED = "This form expired or was not sent from TINpass. Please sign in again."
TICKET_TTL = 300


class Step:
    """One posted login form: its fields and the authorization request it carries."""

    def __init__(self, fields: dict[str, str]) -> None:
        self.fields = fields
        self.pairs = parse_qsl(fields.get("authorization_request", ""), keep_blank_values=True)

    @property
    def authorization(self) -> dict[str, list[str]]:
        grouped: dict[str, list[str]] = {}
        for key, value in self.pairs:
            grouped.setdefault(key, []).append(value)
        return grouped

    @classmethod
    async def read(cls, request: Request) -> Step:
        form = checked(await request.form())
        return cls({k: v for k, v in form.items() if isinstance(v, str)})


async def _rejected(request: Request, settings: Settings, rejected: FormRejected) -> Response:
    """The login form again, the fault named; the authorization request kept when sound."""
    form = await request.form()
    carried = form.get("authorization_request", "")
    if rejected.field == "authorization_request" or not isinstance(carried, str):
        carried = ""
    step = Step({"authorization_request": carried})
    return login_page(request, settings, step.pairs, None, status_code=400, error=rejected.message)


async def _throttled(
    request: Request, throttle: Throttle, settings: Settings, step: Step
) -> Response | None:
    wait = await throttle.retry_after("login", source_address(request) or "unknown")
    if wait is None:
        return None
    response = login_page(
        request,
        settings,
        step.authorization,
        None,
        status_code=429,
        error=f"Too many sign-in attempts from your network. Wait {wait} seconds and try again.",
    )
    response.headers["Retry-After"] = str(wait)
    return response


@router.get("/login")
async def login_form(request: Request, settings: SettingsDep) -> Response:
    response = login_page(request, settings, None, None)
    return_to.remember(request, response, secure=settings.secure_cookies)
    return response


@router.post("/login")
async def login(
    request: Request,
    settings: SettingsDep,
    store: StoreDep,
    keystore: KeyStoreDep,
    server: ServerDep,
    throttle: ThrottleDep,
) -> Response:
    try:
        step = await Step.read(request)
    except FormRejected as rejected:
        return await _rejected(request, settings, rejected)
    username = step.fields.get("username", "")[:64]
    if (limited := await _throttled(request, throttle, settings, step)) is not None:
        return limited
    if not csrf.valid(request, settings.secret_key, step.fields.get("csrf_token")):
        return login_page(
            request,
            settings,
            step.authorization,
            None,
            username=username,
            status_code=400,
            error=EXPIRED,
        )
    ctx = await protocol_context(request, store, settings, keystore)
    user = await _check_password(ctx, username, step.fields.get("password", ""))
    if user is None:
        await commit(ctx)
        return login_page(
            request,
            settings,
            step.authorization,
            None,
            username=username,
            status_code=401,
            error=GENERIC_LOGIN_ERROR,
        )
    if user.mfa_enabled:
        await commit(ctx)
        metrics.MFA_CHALLENGES.inc()
        return _code_page(request, settings, step, user)
    if requests_mfa(dict(step.pairs)) or await _organization_requires_mfa(ctx, user):
        secret = mfa.start_enrollment(settings, user)
        await commit(ctx)
        return _enroll_page(request, settings, step, user, secret)
    return await finish_login(request, ctx, server, user, step, amr=["pwd"], acr=mfa.ACR_PASSWORD)


async def _check_password(ctx: ProtocolContext, username: str, password: str) -> User | None:
    session = ctx.store.session
    await autocommit_reads(session)
    user = await session.scalar(select(User).where(User.username_normalized == username.casefold()))
    # Only read so far: the connection goes back to the pool while the password hashes
    # (tens of milliseconds, longer queued behind other logins), not held idle meanwhile.
    await session.commit()
    usable = user is not None and user.status == "active" and not accounts.is_locked(user)
    ok, new_hash = await verify_password_async(
        password, user.password_hash if user and usable else None
    )
    if user is None:
        ctx.emit("login.failed", outcome="failure", reason="unknown_user", username=username)
        return None
    if not usable:
        reason = "locked" if accounts.is_locked(user) else f"status_{user.status}"
        ctx.emit("login.failed", user_id=user.id, outcome="failure", reason=reason)
        return None
    if not ok:
        _failed(ctx, user, "wrong_password")
        return None
    if new_hash:
        user.password_hash = new_hash
    return user


async def _organization_requires_mfa(ctx: ProtocolContext, user: User) -> bool:
    """From the user's standing, which the subject of the code is then made from
    (`OAuthStore.standing`: one query for both)."""
    standing = await ctx.store.standing(user.id)
    return standing is not None and standing.mfa_required


def _failed(ctx: ProtocolContext, user: User, reason: str) -> None:
    locked = accounts.register_failure(user, ctx.settings)
    ctx.emit("login.failed", user_id=user.id, outcome="failure", reason=reason)
    if locked:
        ctx.emit("account.locked", user_id=user.id, until=str(user.locked_until))


def _code_page(
    request: Request,
    settings: Settings,
    step: Step,
    user: User,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    ticket = tickets.issue(request, settings.secret_key, "mfa", TICKET_TTL, uid=user.id)
    return step_page(
        request,
        settings,
        "mfa.html",
        step.pairs,
        status_code=status_code,
        title="Two-step sign-in",
        ticket=ticket,
        error=error,
    )


def _enroll_page(
    request: Request,
    settings: Settings,
    step: Step,
    user: User,
    secret: str,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    ticket = tickets.issue(request, settings.secret_key, "enroll", TICKET_TTL, uid=user.id)
    uri = mfa.provisioning_uri(secret, user)
    return step_page(
        request,
        settings,
        "enroll.html",
        step.pairs,
        status_code=status_code,
        title="Set up two-step sign-in",
        ticket=ticket,
        secret=secret,
        qr=mfa.qr_data_uri(uri),
        error=error,
    )


async def _ticket_user(
    request: Request, ctx: ProtocolContext, step: Step, purpose: str
) -> User | None:
    if not csrf.valid(request, ctx.settings.secret_key, step.fields.get("csrf_token")):
        return None
    data = tickets.read(request, ctx.settings.secret_key, purpose, step.fields.get("ticket"))
    user = await ctx.store.session.get(User, data["uid"]) if data else None
    if user is None or user.status != "active" or accounts.is_locked(user):
        return None
    return user


@router.post("/login/mfa")
async def login_code(
    request: Request,
    settings: SettingsDep,
    store: StoreDep,
    keystore: KeyStoreDep,
    server: ServerDep,
    throttle: ThrottleDep,
) -> Response:
    step = await Step.read(request)
    if (limited := await _throttled(request, throttle, settings, step)) is not None:
        return limited
    ctx = await protocol_context(request, store, settings, keystore)
    user = await _ticket_user(request, ctx, step, "mfa")
    if user is None:
        return login_page(
            request, settings, step.authorization, None, status_code=400, error=EXPIRED
        )
    code = step.fields.get("code", "")
    if await mfa.verify_factor(ctx.store.session, settings, user, code):
        return await finish_login(
            request, ctx, server, user, step, amr=["pwd", "otp"], acr=mfa.ACR_MFA
        )
    _failed(ctx, user, "wrong_code")
    await commit(ctx)
    if accounts.is_locked(user):
        return login_page(
            request, settings, step.authorization, None, status_code=401, error=GENERIC_LOGIN_ERROR
        )
    return _code_page(
        request,
        settings,
        step,
        user,
        status_code=401,
        error="That code is not right. Enter the current code from your app, or a recovery code.",
    )


@router.post("/login/enroll")
async def login_enroll(
    request: Request,
    settings: SettingsDep,
    store: StoreDep,
    keystore: KeyStoreDep,
    throttle: ThrottleDep,
) -> Response:
    step = await Step.read(request)
    if (limited := await _throttled(request, throttle, settings, step)) is not None:
        return limited
    ctx = await protocol_context(request, store, settings, keystore)
    user = await _ticket_user(request, ctx, step, "enroll")
    # Only an account without a second factor enrolls here (the password step proved
    # only the password); replacing a factor is the account page's, after re-checking it.
    secret = mfa.pending_secret_of(settings, user) if user and not user.mfa_enabled else None
    if user is None or secret is None:
        return login_page(
            request, settings, step.authorization, None, status_code=400, error=EXPIRED
        )
    if not mfa.confirm_enrollment(settings, user, step.fields.get("code", "")):
        await commit(ctx)
        return _enroll_page(
            request,
            settings,
            step,
            user,
            secret,
            status_code=400,
            error="That code is not right. Enter the 6-digit code your app shows now.",
        )
    codes = await mfa.new_recovery_codes(ctx.store.session, user)
    ctx.emit("mfa.enrolled", user_id=user.id)
    await commit(ctx)
    ticket = tickets.issue(request, settings.secret_key, "finish", TICKET_TTL, uid=user.id)
    return step_page(
        request,
        settings,
        "recovery.html",
        step.pairs,
        title="Save your recovery codes",
        codes=codes,
        ticket=ticket,
        action="/login/finish",
    )


@router.post("/login/finish")
async def login_finish(
    request: Request,
    settings: SettingsDep,
    store: StoreDep,
    keystore: KeyStoreDep,
    server: ServerDep,
) -> Response:
    step = await Step.read(request)
    ctx = await protocol_context(request, store, settings, keystore)
    user = await _ticket_user(request, ctx, step, "finish")
    if user is None or not user.mfa_enabled:
        return login_page(
            request, settings, step.authorization, None, status_code=400, error=EXPIRED
        )
    return await finish_login(request, ctx, server, user, step, amr=["pwd", "otp"], acr=mfa.ACR_MFA)


async def finish_login(
    request: Request,
    ctx: ProtocolContext,
    server: TinpassAuthorizationServer,
    user: User,
    step: Step,
    *,
    amr: list[str],
    acr: str,
) -> Response:
    """Start the SSO session and resume the authorization request (one commit)."""
    accounts.register_success(user)
    sso, cookie = await _start_session(ctx, request, user, amr, acr)
    ctx.emit("login.succeeded", user_id=user.id, amr=amr, acr=acr)
    if step.pairs:
        oauth_request = stored_authorization_request(step.pairs, ctx.settings)
        response = await resume(request, ctx, server, oauth_request, sso, fresh=True)
    elif back := return_to.remembered(request):
        await commit(ctx)
        response = RedirectResponse(back, status_code=303)
        return_to.forget(response)
    else:
        await commit(ctx)
        response = render(
            request,
            "message.html",
            title="You are signed in",
            message=f"You are signed in to TINpass as {user.username}.",
            link="/account",
            link_text="Your account",
        )
    response.set_cookie(
        SSO_COOKIE,
        cookie,
        httponly=True,
        samesite="lax",
        secure=ctx.settings.secure_cookies,
        max_age=ctx.settings.sso_session_ttl,
        path="/",
    )
    return response


async def _start_session(
    ctx: ProtocolContext, request: Request, user: User, amr: list[str], acr: str
) -> tuple[SsoSession, str]:
    cookie = generate_secret()
    now = datetime.now(UTC)
    sso = SsoSession(
        cookie_digest=token_digest(cookie),
        user_id=user.id,
        auth_time=now,
        amr=amr,
        acr=acr,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(seconds=ctx.settings.sso_session_ttl),
        user_agent=request.headers.get("user-agent", "")[:200],
        source_address=source_address(request),
    )
    ctx.store.session.add(sso)
    await ctx.store.session.flush()
    return sso, cookie
