"""Two-step sign-in on the account page: turn it on, move it to a new app, make new
recovery codes, turn it off.

Looking (GET) changes nothing. Every change is a POST with a CSRF token and needs
recent authentication with the account's current factors: a sign-in no older than
`mfa_reauth_max_age` that proved them, or the password and a current code (or a
recovery code) given again in the form. A new secret is held as pending and replaces
the old one only when a code from it is confirmed (`identity.mfa`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from identity import accounts, mfa
from identity.deps import SettingsDep, StoreDep
from identity.security import verify_password_async
from identity.settings import Settings
from identity.web import csrf, tickets
from identity.web.account import Account, _account, _audit, _overview, _to_login
from identity.web.forms import posted
from identity.web.pages import render

router = APIRouter(prefix="/account")
ENROLL_TICKET = "account-enroll"
ENROLL_TTL = 600
REAUTH_FAILED = (
    "That did not confirm it is you. Enter your password and a current code from your app "
    "(or a recovery code), or sign in again."
)
REAUTH_FAILED_NO_MFA = "That is not your password. Enter it again, or sign in again."
REQUIRED = (
    "An organization you belong to requires two-step sign-in, so it cannot be turned off. "
    "To use another device, move two-step sign-in to a new app instead."
)


async def _page(
    request: Request,
    settings: Settings,
    store: Any,
    account: Account,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    token, new_cookie = csrf.issue(request, settings.secret_key)
    response = render(
        request,
        "account_mfa.html",
        status_code=status_code,
        title="Two-step sign-in",
        user=account.user,
        csrf_token=token,
        error=error,
        needs_reauth=not mfa.recently_authenticated(settings, account.sso, account.user),
        max_age_minutes=max(1, settings.mfa_reauth_max_age // 60),
        recovery_left=await mfa.remaining_recovery_codes(store.session, account.user),
        required_by=await mfa.requiring_organizations(store.session, account.user),
    )
    csrf.set_cookie(response, new_cookie, secure=settings.secure_cookies)
    await store.session.commit()  # only the session's last-seen time (idle timeout)
    return response


@router.get("/mfa")
async def mfa_page(request: Request, settings: SettingsDep, store: StoreDep) -> Response:
    account = await _account(request, store, settings)
    return await _page(request, settings, store, account) if account else _to_login()


async def _confirmed(
    request: Request, settings: Settings, store: Any, fields: dict[str, str]
) -> Account | Response:
    """The signed-in account when the form is genuine and its current factors are proven
    (recently, or again in this form); otherwise the response to give."""
    account = await _account(request, store, settings)
    if account is None or not csrf.valid(request, settings.secret_key, fields.get("csrf_token")):
        return _to_login()
    if mfa.recently_authenticated(settings, account.sso, account.user):
        return account
    user = account.user
    ok, _ = await verify_password_async(fields.get("current", ""), user.password_hash)
    if ok and (
        not user.mfa_enabled
        or await mfa.verify_factor(store.session, settings, user, fields.get("code", ""))
    ):
        return account
    accounts.register_failure(user, settings)
    await _audit(request, store.session, "mfa.reauthentication_failed", user)
    await store.session.commit()
    error = REAUTH_FAILED if user.mfa_enabled else REAUTH_FAILED_NO_MFA
    return await _page(request, settings, store, account, error=error, status_code=400)


def _enroll(
    request: Request, settings: Settings, account: Account, secret: str, error: str | None = None
) -> Response:
    token, new_cookie = csrf.issue(request, settings.secret_key)
    ticket = tickets.issue(
        request, settings.secret_key, ENROLL_TICKET, ENROLL_TTL, uid=account.user.id
    )
    response = render(
        request,
        "enroll.html",
        status_code=400 if error else 200,
        title="Two-step sign-in",
        intro="Until you confirm a code from the new app, your current one keeps working."
        if account.user.mfa_enabled
        else "Turn on two-step sign-in for your account.",
        secret=secret,
        qr=mfa.qr_data_uri(mfa.provisioning_uri(secret, account.user)),
        csrf_token=token,
        ticket=ticket,
        authorization_request="",
        action="/account/mfa/confirm",
        error=error,
    )
    csrf.set_cookie(response, new_cookie, secure=settings.secure_cookies)
    return response


@router.post("/mfa/start")
async def start(request: Request, settings: SettingsDep, store: StoreDep) -> Response:
    confirmed = await _confirmed(request, settings, store, await posted(request))
    if isinstance(confirmed, Response):
        return confirmed
    secret = mfa.start_enrollment(settings, confirmed.user)
    await _audit(request, store.session, "mfa.enrollment_started", confirmed.user)
    await store.session.commit()
    return _enroll(request, settings, confirmed, secret)


@router.post("/mfa/confirm")
async def confirm(request: Request, settings: SettingsDep, store: StoreDep) -> Response:
    account = await _account(request, store, settings)
    fields = await posted(request)
    if account is None or not csrf.valid(request, settings.secret_key, fields.get("csrf_token")):
        return _to_login()
    ticket = tickets.read(request, settings.secret_key, ENROLL_TICKET, fields.get("ticket"))
    pending = mfa.pending_secret_of(settings, account.user)
    if ticket is None or ticket.get("uid") != account.user.id or pending is None:
        await store.session.commit()
        return await _page(
            request,
            settings,
            store,
            account,
            error="This set-up expired. Start it again.",
            status_code=400,
        )
    replaced = account.user.mfa_enabled
    if not mfa.confirm_enrollment(settings, account.user, fields.get("code", "")):
        return _enroll(
            request, settings, account, pending, "That code is not right; try the current one."
        )
    account.sso.amr, account.sso.acr = ["pwd", "otp"], mfa.ACR_MFA
    account.sso.auth_time = datetime.now(UTC)
    return await _show_codes(request, settings, store, account, "mfa.enrolled", replaced=replaced)


@router.post("/mfa/remove")
async def remove(request: Request, settings: SettingsDep, store: StoreDep) -> Response:
    confirmed = await _confirmed(request, settings, store, await posted(request))
    if isinstance(confirmed, Response):
        return confirmed
    if not confirmed.user.mfa_enabled:
        return await _page(request, settings, store, confirmed)
    if await mfa.organization_requires(store.session, confirmed.user):
        await store.session.commit()
        return await _page(request, settings, store, confirmed, error=REQUIRED, status_code=409)
    await mfa.remove(store.session, confirmed.user)
    await _audit(request, store.session, "mfa.removed", confirmed.user)
    return await _overview(
        request, settings, store, confirmed, "Two-step sign-in is off; your recovery codes ended."
    )


@router.post("/recovery-codes")
async def regenerate_codes(request: Request, settings: SettingsDep, store: StoreDep) -> Response:
    confirmed = await _confirmed(request, settings, store, await posted(request))
    if isinstance(confirmed, Response):
        return confirmed
    if not confirmed.user.mfa_enabled:
        return await _page(request, settings, store, confirmed)
    return await _show_codes(request, settings, store, confirmed, "recovery_codes.regenerated")


async def _show_codes(
    request: Request, settings: Settings, store: Any, account: Account, event: str, **details: Any
) -> Response:
    codes = await mfa.new_recovery_codes(store.session, account.user)
    await _audit(request, store.session, event, account.user, **details)
    await store.session.commit()
    token, new_cookie = csrf.issue(request, settings.secret_key)
    response = render(
        request,
        "recovery.html",
        title="Save your recovery codes",
        codes=codes,
        csrf_token=token,
        ticket="",
        authorization_request="",
        action="/account/done",
    )
    csrf.set_cookie(response, new_cookie, secure=settings.secure_cookies)
    return response


@router.post("/done")
async def done(request: Request) -> Response:
    return RedirectResponse("/account", status_code=303)
