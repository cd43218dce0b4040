"""A signed-in user's own account: profile, password, e-mail and the list of sessions
(signing out of one or all: `identity.web.account_sessions`; two-step sign-in:
`identity.web.account_mfa`). Every change needs the SSO session and a CSRF token
(and a POST), and is audited in its transaction."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.responses import RedirectResponse, Response

from identity import accounts, action_tokens, audit, mfa
from identity.deps import MailerDep, SessionDep, SettingsDep, StoreDep, request_id, source_address
from identity.models import SsoSession, User
from identity.password_policy import PolicyViolation
from identity.security import verify_password_async
from identity.settings import Settings
from identity.web import csrf, return_to, user_agents
from identity.web.authorize import SSO_COOKIE
from identity.web.forms import Field, form_page, posted
from identity.web.pages import render

router = APIRouter(prefix="/account")
confirm_router = APIRouter()


class Account:
    def __init__(self, sso: SsoSession, user: User) -> None:
        self.sso, self.user = sso, user


async def _account(request: Request, store: Any, settings: Settings) -> Account | None:
    sso = await store.active_session(request.cookies.get(SSO_COOKIE), settings.sso_idle_timeout)
    user = await store.session.get(User, sso.user_id) if sso else None
    return Account(sso, user) if sso and user and user.status == "active" else None


def _to_login() -> Response:
    """To the sign-in page, which brings the person back to their account afterwards."""
    return RedirectResponse(return_to.login_url("/account"), status_code=303)


async def _audit(request: Request, session: Any, event: str, user: User, **details: Any) -> None:
    await audit.record(
        session,
        event,
        actor_type="user",
        actor_id=user.id,
        target_type="user",
        target_id=user.id,
        details=details,
        source_address=source_address(request),
        request_id=request_id(request),
    )


NOTICES = {
    "session_ended": "That session is signed out. Sites you used in it were told to sign "
    "you out too.",
    "session_gone": "That session had already ended.",
}


def describe_sessions(rows: list[SsoSession], current: str) -> list[dict[str, Any]]:
    """The account page's rows: the browser and system in words, this browser first."""
    described = [
        {
            "id": row.id,
            "device": user_agents.describe(row.user_agent),
            "signed_in": row.auth_time,
            "last_seen": row.last_seen_at,
            "source_address": row.source_address or "",
            "current": row.id == current,
        }
        for row in rows
    ]
    return sorted(described, key=lambda s: not s["current"])


async def _overview(
    request: Request,
    settings: Settings,
    store: Any,
    account: Account,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    rows = list(
        await store.session.scalars(
            select(SsoSession)
            .where(SsoSession.user_id == account.user.id, SsoSession.ended_at.is_(None))
            .order_by(SsoSession.auth_time.desc(), SsoSession.id)
        )
    )
    token, new_cookie = csrf.issue(request, settings.secret_key)
    response = render(
        request,
        "account.html",
        status_code=status_code,
        title="Your account",
        user=account.user,
        sessions=describe_sessions(rows, account.sso.id),
        csrf_token=token,
        notice=notice,
        recovery_left=await mfa.remaining_recovery_codes(store.session, account.user),
        mfa_required_by=await mfa.requiring_organizations(store.session, account.user),
    )
    csrf.set_cookie(response, new_cookie, secure=settings.secure_cookies)
    await store.session.commit()
    return response


@router.get("")
async def overview(
    request: Request, settings: SettingsDep, store: StoreDep, done: str = ""
) -> Response:
    account = await _account(request, store, settings)
    if account is None:
        return _to_login()
    return await _overview(request, settings, store, account, NOTICES.get(done))


def _password_form(
    request: Request,
    settings: Settings,
    errors: dict[str, list[str]] | None = None,
    status_code: int = 200,
) -> Response:
    errors = errors or {}
    return form_page(
        request,
        settings,
        title="Change your password",
        action="/account/password",
        submit="Change it",
        status_code=status_code,
        fields=[
            Field(
                "current",
                "Current password",
                "password",
                "current-password",
                errors=errors.get("current", []),
            ),
            Field(
                "password",
                "New password",
                "password",
                "new-password",
                errors=errors.get("password", []),
            ),
            Field("confirm", "The new password again", "password", "new-password"),
        ],
    )


@router.get("/password")
async def password_form(request: Request, settings: SettingsDep, store: StoreDep) -> Response:
    return (
        _password_form(request, settings)
        if await _account(request, store, settings)
        else _to_login()
    )


@router.post("/password")
async def change_password(request: Request, settings: SettingsDep, store: StoreDep) -> Response:
    account = await _account(request, store, settings)
    fields = await posted(request)
    if account is None or not csrf.valid(request, settings.secret_key, fields.get("csrf_token")):
        return _to_login()
    ok, _ = await verify_password_async(fields.get("current", ""), account.user.password_hash)
    if not ok:
        return _password_form(
            request, settings, {"current": ["The current password is not right."]}, 400
        )
    if fields.get("password") != fields.get("confirm"):
        return _password_form(
            request, settings, {"password": ["The two new passwords differ."]}, 400
        )
    try:
        await accounts.set_password(
            store.session, settings, account.user, fields.get("password", "")
        )
    except PolicyViolation as violation:
        await store.session.rollback()
        return _password_form(
            request, settings, {"password": [v.message for v in violation.violations]}, 400
        )
    ended = await accounts.end_sessions(
        store.session, account.user.id, "password_changed", keep=account.sso.id
    )
    await _audit(
        request, store.session, "password.changed", account.user, other_sessions_ended=len(ended)
    )
    return await _overview(
        request, settings, store, account, "Your password is changed; other sessions ended."
    )


@router.get("/profile")
async def profile_form(request: Request, settings: SettingsDep, store: StoreDep) -> Response:
    account = await _account(request, store, settings)
    if account is None:
        return _to_login()
    return form_page(
        request,
        settings,
        title="Your name",
        action="/account/profile",
        submit="Save",
        fields=[
            Field(
                "given_name", "Given name", autocomplete="given-name", value=account.user.given_name
            ),
            Field(
                "family_name",
                "Family name",
                autocomplete="family-name",
                value=account.user.family_name,
            ),
        ],
    )


@router.post("/profile")
async def update_profile(request: Request, settings: SettingsDep, store: StoreDep) -> Response:
    account = await _account(request, store, settings)
    fields = await posted(request)
    if account is None or not csrf.valid(request, settings.secret_key, fields.get("csrf_token")):
        return _to_login()
    before = {"given_name": account.user.given_name, "family_name": account.user.family_name}
    account.user.given_name = fields.get("given_name", "").strip()[:100]
    account.user.family_name = fields.get("family_name", "").strip()[:100]
    after = {"given_name": account.user.given_name, "family_name": account.user.family_name}
    await _audit(
        request, store.session, "profile.updated", account.user, before=before, after=after
    )
    return await _overview(request, settings, store, account, "Your name is saved.")


@router.get("/email")
async def email_form(request: Request, settings: SettingsDep, store: StoreDep) -> Response:
    if await _account(request, store, settings) is None:
        return _to_login()
    return _email_form(request, settings)


def _email_form(
    request: Request,
    settings: Settings,
    errors: dict[str, list[str]] | None = None,
    status_code: int = 200,
) -> Response:
    errors = errors or {}
    return form_page(
        request,
        settings,
        title="Change your e-mail address",
        action="/account/email",
        submit="Send a confirmation link",
        status_code=status_code,
        intro="We send a link to the new address; the change happens when you open it.",
        fields=[
            Field("email", "New e-mail address", "email", "email", errors=errors.get("email", [])),
            Field(
                "current",
                "Your password",
                "password",
                "current-password",
                errors=errors.get("current", []),
            ),
        ],
    )


@router.post("/email")
async def change_email(
    request: Request, settings: SettingsDep, store: StoreDep, mailer: MailerDep
) -> Response:
    account = await _account(request, store, settings)
    fields = await posted(request)
    if account is None or not csrf.valid(request, settings.secret_key, fields.get("csrf_token")):
        return _to_login()
    address = fields.get("email", "").strip()
    if "@" not in address or len(address) > 254:
        return _email_form(
            request, settings, {"email": ["Enter an e-mail address like name@example.org."]}, 400
        )
    ok, _ = await verify_password_async(fields.get("current", ""), account.user.password_hash)
    if not ok:
        return _email_form(request, settings, {"current": ["The password is not right."]}, 400)
    token = await action_tokens.issue(
        store.session, "email_change", account.user.id, settings.email_link_ttl, email=address
    )
    await _audit(request, store.session, "email.change_requested", account.user)
    response = await _overview(
        request, settings, store, account, f"We sent a confirmation link to {address}."
    )
    link = f"{settings.issuer.rstrip('/')}/confirm-email?token={token}"
    await mailer.send(
        address,
        "Confirm your new TINpass e-mail address",
        f"Open this link to use this address for TINpass account {account.user.username}:\n"
        f"{link}\n",
    )
    await mailer.send(
        account.user.email,
        "Your TINpass e-mail address is being changed",
        f"Someone signed in as {account.user.username} asked to move the account to another "
        "address. If it was not you, reset your password and tell your administrator.",
    )
    return response


def _not_changed(request: Request, message: str) -> Response:
    return render(
        request, "message.html", status_code=400, title="Not changed", message=message, error=True
    )


@confirm_router.get("/confirm-email")
async def confirm_email_form(
    request: Request, settings: SettingsDep, session: SessionDep, token: str = ""
) -> Response:
    """Opening the link only asks; the change is the POST (a GET changes nothing)."""
    row = await action_tokens.peek(session, "email_change", token)
    if row is None:
        return _not_changed(request, "This link expired or was used.")
    return form_page(
        request,
        settings,
        title="Confirm your new e-mail address",
        action="/confirm-email",
        submit="Use this address",
        intro=f"Use {row.data.get('email', '')} for your TINpass account?",
        fields=[],
        hidden={"token": token},
    )


@confirm_router.post("/confirm-email")
async def confirm_email(request: Request, settings: SettingsDep, session: SessionDep) -> Response:
    fields = await posted(request)
    if not csrf.valid(request, settings.secret_key, fields.get("csrf_token")):
        return _not_changed(request, "This form expired. Open the link in the e-mail again.")
    row = await action_tokens.use(session, "email_change", fields.get("token", ""))
    user = await session.get(User, row.user_id) if row else None
    address = str(row.data.get("email", "")) if row else ""
    taken = (
        await session.scalar(select(User.id).where(User.email_normalized == address.lower()))
        if row
        else None
    )
    if user is None or taken is not None:
        await session.rollback()
        return _not_changed(
            request,
            "That address already belongs to an account."
            if taken
            else "This link expired or was used.",
        )
    before = user.email
    user.email, user.email_normalized = address, address.lower()
    await audit.record(
        session,
        "email.changed",
        actor_type="user",
        actor_id=user.id,
        target_type="user",
        target_id=user.id,
        details={"before": before, "after": address},
        request_id=request_id(request),
    )
    await session.commit()
    return render(
        request,
        "message.html",
        title="E-mail address changed",
        message=f"Your address is now {address}.",
    )
