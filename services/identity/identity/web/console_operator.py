"""The operators' console: the queue of pending registrations (verify, or reject with
a reason) and TINs waiting for verification, each with its submission date and
evidence (verify, or reject with a reason), a search for a verified TIN to revoke;
lists of every organization and person (searched by name, username, e-mail or TIN,
a page at a time) and the audit trail (filtered by organization, person or event).
The lists and the trail are GETs that change nothing. Only operators see these pages;
anyone else signed in gets 403."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import RedirectResponse, Response

from identity import tin_verification as tins
from identity.admin import operator, operator_audit, operator_directory
from identity.deps import SettingsDep, StoreDep, request_id, source_address
from identity.models import Organization
from identity.security import normalize_tin
from identity.settings import Settings
from identity.web import csrf, form_tokens
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
DECISIONS = {
    ("registrations", "verify"),
    ("registrations", "reject"),
    ("tax-ids", "approve"),
    ("tax-ids", "reject"),
    ("tax-ids", "revoke"),
}

router = APIRouter(prefix="/console")


def _no_page(request: Request) -> Response:
    return render(
        request,
        "message.html",
        status_code=403,
        title="Only for TINpass operators",
        error=True,
        message="Only TINpass operators can see this page.",
        link="/console",
        link_text="Back to the console",
    )


async def _operator(request: Request, settings: Settings, store: Any) -> Response | None:
    """None for a signed-in operator; the sign-in redirect or the 403 page otherwise."""
    account = await _account(request, store, settings)
    if account is None:
        return to_login(request)
    return None if account.user.is_operator else _no_page(request)


def _page_number(text: str) -> int:
    return int(text) if text.isdigit() and 0 < len(text) < 7 else 1


@router.get("/operator")
async def queue(
    request: Request, settings: SettingsDep, store: StoreDep, done: str = "", tin: str = ""
) -> Response:
    if (refused := await _operator(request, settings, store)) is not None:
        return refused
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


@router.get("/operator/organizations")
async def organizations(
    request: Request, settings: SettingsDep, store: StoreDep, q: str = "", page: str = "1"
) -> Response:
    if (refused := await _operator(request, settings, store)) is not None:
        return refused
    found = await operator_directory.organizations(store.session, q[:200], _page_number(page))
    await store.session.commit()  # only the session's last-seen time (idle timeout)
    return render(request, "console_operator_orgs.html", title="Organizations", q=q, found=found)


@router.get("/operator/people")
async def people(
    request: Request, settings: SettingsDep, store: StoreDep, q: str = "", page: str = "1"
) -> Response:
    if (refused := await _operator(request, settings, store)) is not None:
        return refused
    found = await operator_directory.people(store.session, q[:200], _page_number(page))
    await store.session.commit()
    return render(request, "console_operator_people.html", title="People", q=q, found=found)


@router.get("/operator/audit")
async def audit_trail(
    request: Request,
    settings: SettingsDep,
    store: StoreDep,
    organization: str = "",
    person: str = "",
    event: str = "",
    page: str = "1",
) -> Response:
    if (refused := await _operator(request, settings, store)) is not None:
        return refused
    wanted = operator_audit.AuditFilter(organization[:200], person[:200], event[:64])
    found = await operator_audit.events(store.session, wanted, _page_number(page))
    names = await operator_audit.event_names(store.session)
    shown = await operator_audit.matched(store.session, wanted)
    await store.session.commit()
    return render(
        request,
        "console_operator_audit.html",
        title="Audit trail",
        wanted=wanted,
        shown=shown,
        found=found,
        event_names=names,
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
    if not account.user.is_operator:
        return _no_page(request)
    if (kind, verb) not in DECISIONS:
        return error_page(request, settings, 404, "There is no such decision to make.")
    form = checked(await request.form())
    token = str(form.get("csrf_token", ""))
    if not csrf.once_valid(request, settings.secret_key, token):
        return error_page(request, settings, 400, EXPIRED_FORM)
    by = operator.Decision(account.user, request_id(request), source_address(request))
    reason = str(form.get("reason", ""))
    session = store.session
    await session.commit()  # the session's last-seen time, apart from the decision
    if not await form_tokens.use(session, account.user.id, token):  # a replayed decision
        return error_page(request, settings, 409, form_tokens.REPLAYED)
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
