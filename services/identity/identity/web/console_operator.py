"""The operators' console page: pending registrations (verify, or reject with a
reason), TINs waiting for verification with their evidence (verify, or reject with
a reason), and a search for a verified TIN to revoke. Only operators see it; others get 404."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import RedirectResponse, Response

from identity import tin_verification as tins
from identity.admin import operator
from identity.deps import SettingsDep, StoreDep, request_id, source_address
from identity.models import Organization
from identity.security import normalize_tin
from identity.web import csrf
from identity.web.account import _account
from identity.web.console import EXPIRED_FORM, error_page, mailer_of, page, to_login
from identity.web.forms import checked
from identity.web.pages import render
from policy.problems import Problem

DONE = {
    "verified": "The organization is verified; its administrators were told by e-mail.",
    "rejected": "The registration was rejected; the applicant was told why by e-mail.",
    "approved": "The Tax ID is verified; the organization's administrators were told.",
    "declined": "The Tax ID was rejected; the organization's administrators were told why.",
    "revoked": "The Tax ID was revoked: its grants ended and the next tokens no longer carry "
    "it; the organization's administrators were told why.",
}
TIN_VERBS = {"approve": "approved", "reject": "declined", "revoke": "revoked"}

router = APIRouter(prefix="/console")


def _no_page(request: Request) -> Response:
    return render(
        request,
        "message.html",
        status_code=404,
        title="Not found",
        error=True,
        message="This page does not exist.",
    )


@router.get("/operator")
async def queue(
    request: Request, settings: SettingsDep, store: StoreDep, done: str = "", tin: str = ""
) -> Response:
    account = await _account(request, store, settings)
    if account is None:
        return to_login()
    if not account.user.is_operator:
        return _no_page(request)
    return page(
        request,
        settings,
        "console_operator.html",
        title="Operator queue",
        notice=DONE.get(done),
        registrations=await operator.pending_registrations(store.session),
        requests=await tins.pending(store.session),
        tin=tin,
        found=await _found(store.session, tin),
    )


async def _found(session: AsyncSession, tin: str) -> list[dict[str, Any]] | None:
    """Every organization's record of the TIN searched for (None: no valid search)."""
    try:
        return await tins.search(session, normalize_tin(tin)) if tin else None
    except ValueError:
        return None


@router.post("/operator/{kind}/{item_id}/{verb}")
async def decide(
    kind: str, item_id: str, verb: str, request: Request, settings: SettingsDep, store: StoreDep
) -> Response:
    account = await _account(request, store, settings)
    if account is None:
        return to_login()
    if not account.user.is_operator or (kind, verb) not in {
        ("registrations", "verify"),
        ("registrations", "reject"),
        ("tax-ids", "approve"),
        ("tax-ids", "reject"),
        ("tax-ids", "revoke"),
    }:
        return _no_page(request)
    form = checked(await request.form())
    if not csrf.valid(request, settings.secret_key, str(form.get("csrf_token", ""))):
        return error_page(request, settings, 400, EXPIRED_FORM)
    by = operator.Decision(account.user, request_id(request), source_address(request))
    reason = str(form.get("reason", ""))
    session = store.session
    try:
        if kind == "registrations":
            org = await operator.decide_registration(session, by, item_id, verb == "verify", reason)
            admins = await operator.administrators(session, org.id)
            await session.commit()
            await operator.tell_administrators(mailer_of(request), settings, admins, org)
            done = "verified" if verb == "verify" else "rejected"
        else:
            await _decide_tin(request, session, by, item_id, verb, reason)
            done = TIN_VERBS[verb]
    except Problem as problem:
        await session.rollback()
        return error_page(request, settings, problem.status, problem.detail)
    return RedirectResponse(f"/console/operator?done={done}", status_code=303)


async def _decide_tin(
    request: Request,
    session: AsyncSession,
    by: operator.Decision,
    tax_id_id: str,
    verb: str,
    reason: str,
) -> None:
    if verb == "revoke":
        row = await operator.revoke_tin(session, by, tax_id_id, reason)
    else:
        row = await operator.decide_tin(session, by, tax_id_id, verb == "approve", reason)
    org = await session.get(Organization, row.organization_id)
    admins = await operator.administrators(session, row.organization_id)
    await session.commit()
    await tins.notify(mailer_of(request), admins, row, org.name if org else "")
