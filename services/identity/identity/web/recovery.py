"""Forgot password, reset password, forgot username.

The answer never depends on whether an account exists (no enumeration): the
request is counted per source address and handed to the recovery desk
(`recovery_mail.py`), which looks the account up, limits mails per account and
sends them off the request path, so the timing says nothing either. A reset
link works once, for `reset_link_ttl` (30 minutes), and using it ends every
session of the account (relying parties are told by back-channel logout). A
username reminder goes only to the account's own e-mail address.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from identity import accounts, action_tokens, audit
from identity.deps import (
    RecoveryDeskDep,
    SessionDep,
    SettingsDep,
    ThrottleDep,
    request_id,
    source_address,
)
from identity.models import User
from identity.password_policy import PolicyViolation
from identity.recovery_mail import Kind, RecoveryDesk, RecoveryRequest
from identity.throttle import Throttle
from identity.web import csrf
from identity.web.forms import Field, form_page, posted
from identity.web.pages import render

router = APIRouter()
SENT = "If an account matches, we have sent an e-mail to its address. It may take a few minutes."
EXPIRED_LINK = "This link has expired or was already used. Ask for a new one."


@router.get("/forgot-password")
async def forgot_password_form(request: Request, settings: SettingsDep) -> Response:
    return form_page(
        request,
        settings,
        title="Reset your password",
        action="/forgot-password",
        submit="Send me a link",
        intro="Enter your username or the e-mail address of your account.",
        fields=[Field("login", "Username or e-mail", autocomplete="username")],
    )


@router.post("/forgot-password")
async def forgot_password(
    request: Request, settings: SettingsDep, throttle: ThrottleDep, desk: RecoveryDeskDep
) -> Response:
    fields = await posted(request)
    if not csrf.valid(request, settings.secret_key, fields.get("csrf_token")):
        return await forgot_password_form(request, settings)
    return await _hand_over(request, throttle, desk, "password", fields.get("login", ""))


async def _hand_over(
    request: Request, throttle: Throttle, desk: RecoveryDesk, kind: Kind, typed: str
) -> Response:
    """The same work and the same answer whatever was typed: count, queue, answer."""
    wait = await throttle.retry_after("recovery", source_address(request) or "unknown")
    if wait is not None:
        response = render(
            request,
            "message.html",
            status_code=429,
            title="Too many requests",
            message=f"Too many requests from your network. Wait {wait} seconds and try again.",
            error=True,
        )
        response.headers["Retry-After"] = str(wait)
        return response
    desk.submit(RecoveryRequest(kind, typed, source_address(request), request_id(request)))
    return render(request, "message.html", title="Check your e-mail", message=SENT)


def _reset_form(
    request: Request,
    settings: SettingsDep,
    token: str,
    errors: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    return form_page(
        request,
        settings,
        title="Choose a new password",
        action="/reset-password",
        submit="Set the password",
        fields=[
            Field(
                "password",
                "New password",
                type="password",
                autocomplete="new-password",
                errors=errors or [],
            ),
            Field(
                "confirm", "The new password again", type="password", autocomplete="new-password"
            ),
        ],
        hidden={"token": token},
        status_code=status_code,
    )


@router.get("/reset-password")
async def reset_password_form(
    request: Request, settings: SettingsDep, session: SessionDep, token: str = ""
) -> Response:
    if await action_tokens.peek(session, "password_reset", token) is None:
        return render(
            request,
            "message.html",
            status_code=400,
            title="Link not valid",
            message=EXPIRED_LINK,
            error=True,
            link="/forgot-password",
            link_text="Reset your password",
        )
    return _reset_form(request, settings, token)


@router.post("/reset-password")
async def reset_password(request: Request, settings: SettingsDep, session: SessionDep) -> Response:
    fields = await posted(request)
    token = fields.get("token", "")
    row = await action_tokens.peek(session, "password_reset", token)
    user = await session.get(User, row.user_id) if row else None
    if user is None or not csrf.valid(request, settings.secret_key, fields.get("csrf_token")):
        return render(
            request,
            "message.html",
            status_code=400,
            title="Link not valid",
            message=EXPIRED_LINK,
            error=True,
            link="/forgot-password",
            link_text="Reset your password",
        )
    if fields.get("password") != fields.get("confirm"):
        return _reset_form(request, settings, token, ["The two passwords differ."], 400)
    try:
        await accounts.set_password(session, settings, user, fields.get("password", ""))
    except PolicyViolation as violation:
        await session.rollback()
        return _reset_form(request, settings, token, [v.message for v in violation.violations], 400)
    if await action_tokens.use(session, "password_reset", token) is None:
        await session.rollback()
        return render(
            request,
            "message.html",
            status_code=400,
            title="Link not valid",
            message=EXPIRED_LINK,
            error=True,
        )
    ended = await accounts.end_sessions(session, user.id, "password_reset")
    accounts.register_success(user)
    await audit.record(
        session,
        "password.reset",
        actor_type="user",
        actor_id=user.id,
        target_type="user",
        target_id=user.id,
        details={"sessions_ended": len(ended)},
        source_address=source_address(request),
        request_id=request_id(request),
    )
    await session.commit()
    return render(
        request,
        "message.html",
        title="Your password is changed",
        message="Your new password is set, and every session of your account was signed out.",
        link="/login",
        link_text="Sign in",
    )


@router.get("/forgot-username")
async def forgot_username_form(request: Request, settings: SettingsDep) -> Response:
    return form_page(
        request,
        settings,
        title="Forgot your username?",
        action="/forgot-username",
        submit="E-mail it to me",
        intro="Enter the e-mail address of your account; "
        "we send the username there, and only there.",
        fields=[Field("email", "E-mail address", type="email", autocomplete="email")],
    )


@router.post("/forgot-username")
async def forgot_username(
    request: Request, settings: SettingsDep, throttle: ThrottleDep, desk: RecoveryDeskDep
) -> Response:
    fields = await posted(request)
    if not csrf.valid(request, settings.secret_key, fields.get("csrf_token")):
        return await forgot_username_form(request, settings)
    return await _hand_over(request, throttle, desk, "username", fields.get("email", ""))
