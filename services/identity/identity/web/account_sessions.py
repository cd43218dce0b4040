"""Signing out from the account page: one session (this browser's or another's) or
every session. Ending a session is what logout does (`SessionStore.end_sso_session`):
its refresh tokens are revoked and every relying party that got a code or tokens in
it gets a back-channel logout, in the same transaction as the audit event."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from identity import accounts
from identity.deps import SettingsDep, StoreDep
from identity.models import SsoSession
from identity.web import csrf
from identity.web.account import _account, _audit, _to_login
from identity.web.authorize import SSO_COOKIE
from identity.web.forms import posted
from identity.web.pages import render

router = APIRouter(prefix="/account")
REASON = "signed_out_from_account"


@router.post("/sessions/{session_id}/end")
async def end_one(
    session_id: str, request: Request, settings: SettingsDep, store: StoreDep
) -> Response:
    """Sign out of one of the person's sessions; anyone else's session id, or one that
    already ended, changes nothing and says so (the same words for both)."""
    account = await _account(request, store, settings)
    fields = await posted(request)
    if account is None or not csrf.valid(request, settings.secret_key, fields.get("csrf_token")):
        return _to_login()
    row = await store.session.get(SsoSession, session_id)
    if row is None or row.user_id != account.user.id or row.ended_at is not None:
        await store.session.commit()  # only the session's last-seen time (idle timeout)
        return RedirectResponse("/account?done=session_gone", status_code=303)
    await store.end_sso_session(row.id, REASON)
    await _audit(request, store.session, "session.ended", account.user, sid=row.id, reason=REASON)
    await store.session.commit()
    if row.id != account.sso.id:
        return RedirectResponse("/account?done=session_ended", status_code=303)
    response = render(
        request,
        "message.html",
        title="You are signed out",
        message="You are signed out of TINpass in this browser.",
        link="/login",
        link_text="Sign in",
    )
    response.delete_cookie(SSO_COOKIE, path="/")
    return response


@router.post("/sessions/end-all")
async def end_everywhere(request: Request, settings: SettingsDep, store: StoreDep) -> Response:
    account = await _account(request, store, settings)
    fields = await posted(request)
    if account is None or not csrf.valid(request, settings.secret_key, fields.get("csrf_token")):
        return _to_login()
    ended = await accounts.end_sessions(store.session, account.user.id, "signed_out_everywhere")
    await _audit(
        request, store.session, "sessions.ended_everywhere", account.user, sessions=len(ended)
    )
    await store.session.commit()
    response = render(
        request,
        "message.html",
        title="Signed out everywhere",
        message=f"All {len(ended)} of your sessions are signed out.",
        link="/login",
        link_text="Sign in",
    )
    response.delete_cookie(SSO_COOKIE, path="/")
    return response
