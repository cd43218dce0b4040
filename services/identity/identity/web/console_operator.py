"""The operators' console page: pending registrations (verify, or reject with a
reason) and TINs waiting for approval. Only operators see it; others get 404."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from identity.admin import operator
from identity.admin.operator_api import tell_administrators
from identity.admin.problems import AdminProblem
from identity.deps import SettingsDep, StoreDep
from identity.web import csrf
from identity.web.account import _account
from identity.web.console import EXPIRED_FORM, error_page, mailer_of, page, to_login
from identity.web.pages import render
from identity.web.protocol import request_id, source_address

DONE = {
    "verified": "The organization is verified; its administrators were told by e-mail.",
    "rejected": "The registration was rejected; the applicant was told why by e-mail.",
    "approved": "The Tax ID request was approved.",
    "declined": "The Tax ID request was rejected.",
}

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
    request: Request, settings: SettingsDep, store: StoreDep, done: str = ""
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
        requests=await operator.tin_requests(store.session),
    )


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
    }:
        return _no_page(request)
    form = await request.form()
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
            await tell_administrators(mailer_of(request), settings, admins, org)
            done = "verified" if verb == "verify" else "rejected"
        else:
            await operator.decide_tin(session, by, item_id, verb == "approve", reason)
            await session.commit()
            done = "approved" if verb == "approve" else "declined"
    except AdminProblem as problem:
        await session.rollback()
        return error_page(request, settings, problem.status, problem.detail)
    return RedirectResponse(f"/console/operator?done={done}", status_code=303)
