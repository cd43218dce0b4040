"""The portal's pages: home, eligibility, access denied (the claim pages are in claims).

Every page is rendered on the server from what the plan's services answer to the
signed-in person's token; forms are POSTs carrying the session's CSRF token
(member ids are patient data, so they never go into a URL). When the services say
the person's Tax IDs match no provider record at this plan, the page explains it
and what to do next. Fields the services add later are shown too, by name.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from gateway.portal import csrf
from gateway.portal.auth import portal_session
from gateway.portal.labels import SERVICE_TYPES, label
from gateway.portal.plan import Answer, SignedOut, call
from gateway.portal.summary import summarize
from gateway.portal.views import render
from policy import PLAN_ROLES

router = APIRouter(prefix="/portal")
Page = Callable[..., Awaitable[Response]]
TIN_REFUSALS = {"no_matching_provider_record", "no_tax_ids"}
CLAIM_NUMBER = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,39}")


def signed_in(page: Page) -> Page:
    """Pages for signed-in people: others go to the start page; ended tokens sign out."""

    @wraps(page)
    async def wrapper(request: Request, *args: Any, **kwargs: Any) -> Response:
        session = portal_session(request)
        if not session.data.get("user"):
            return RedirectResponse("/portal/", status_code=303)
        try:
            return await page(request, *args, **kwargs)
        except SignedOut:
            session.end()
            return render(
                request,
                "message.html",
                "Signed out",
                status_code=401,
                message="Your TINpass session has ended. Please sign in again.",
                retry=True,
                user=None,
            )

    return wrapper


def trouble(request: Request, answer: Answer) -> Response:
    """The page for an answer that is not a result: refusal, not found, service down."""
    if answer.status == 403 and _reason(answer) in TIN_REFUSALS:
        return denied_page(request)
    if answer.status == 403 and _reason(answer) == "missing_role":
        return no_role_page(request)
    if answer.status == 403:  # the refusal page offers ways on, never the page refused again
        return render(
            request,
            "message.html",
            "Access denied",
            status_code=403,
            message=answer.detail or "The plan refused this request for your account.",
            refused=True,
            administrator=is_administrator(request),
        )
    if answer.status == 429:  # the plan's rate limit, or too many inquiries that did not match
        return render(
            request,
            "message.html",
            "Please wait before asking again",
            status_code=429,
            message=answer.detail or "Too many requests. Wait a few minutes and try again.",
        )
    if answer.status == 404:
        return render(
            request,
            "message.html",
            "Not found",
            status_code=404,
            message="Nothing was found under the Tax IDs your account acts for.",
        )
    page = render(
        request,
        "message.html",
        "The plan's service is not answering",
        status_code=answer.status if answer.status in (503, 504) else 502,
        message="The plan's service did not answer. Please try again in a few minutes.",
    )
    if answer.status == 503 and answer.retry_after:
        page.headers["Retry-After"] = answer.retry_after
    return page


def _reason(answer: Answer) -> str:
    reason = answer.body.get("reason") if isinstance(answer.body, dict) else None
    return reason if isinstance(reason, str) else "no_matching_provider_record"


def is_administrator(request: Request) -> bool:
    """The signed-in person administers an organization at TINpass (the token's roles)."""
    user = portal_session(request).data.get("user") or {}
    orgs = [o for o in user.get("orgs") or [] if isinstance(o, dict)]
    held = set(user.get("roles") or []).union(*(o.get("roles") or [] for o in orgs))
    return "administrator" in held


def denied_page(request: Request) -> Response:
    """The person's Tax IDs match no provider record here (or they have none)."""
    return render(
        request,
        "denied.html",
        "Access not authorized",
        status_code=403,
        administrator=is_administrator(request),
    )


def no_role_page(request: Request) -> Response:
    """The person holds no plan role (billing, clinical) the plan's services need."""
    user = portal_session(request).data.get("user") or {}
    return render(
        request,
        "no_role.html",
        "No plan role yet",
        status_code=403,
        administrator=is_administrator(request),
        plan_roles=sorted(set(user.get("roles") or []) & PLAN_ROLES),
    )


def form_refused(request: Request) -> Response:
    return render(
        request,
        "message.html",
        "Please try again",
        status_code=403,
        message="This form expired or did not come from this site. Reload the page and send it "
        "again.",
    )


@router.get("/")
async def home(request: Request) -> Response:
    if not portal_session(request).data.get("user"):
        return render(request, "landing.html", "Sign in")
    return await _home(request)


@signed_in
async def _home(request: Request) -> Response:
    """Who you are, and which of your TINs match this plan's provider records."""
    user = portal_session(request).data["user"]
    answer = await call(request, "eligibility", "GET", "/eligibility/v1/providers")
    if not answer.ok:
        return trouble(request, answer)
    providers = [p for p in (answer.body or {}).get("providers", []) if isinstance(p, dict)]
    matched = {p.get("tin") for p in providers}
    tins = [{"tin": tin, "matched": tin in matched} for tin in user.get("tax_ids", [])]
    return render(request, "home.html", "Home", tins=tins, providers=providers)


@router.get("/denied")
@signed_in
async def denied(request: Request) -> Response:
    return denied_page(request)


@router.get("/eligibility")
@signed_in
async def eligibility_form(request: Request) -> Response:
    return _eligibility_page(request, "Check eligibility", {})


@router.post("/eligibility")
@signed_in
async def eligibility_check(request: Request) -> Response:
    async with request.form() as submitted:
        form = {k: str(v).strip() for k, v in submitted.items() if isinstance(v, str)}
    if not csrf.valid(portal_session(request).data, form.get(csrf.FIELD)):
        return form_refused(request)
    inquiry: dict[str, Any] = {
        "member_id": form.get("member_id", ""),
        "date_of_birth": form.get("date_of_birth"),
    }
    if form.get("date_of_service"):
        inquiry["date_of_service"] = form["date_of_service"]
    if form.get("service_type") in SERVICE_TYPES:
        inquiry["service_type_codes"] = [form["service_type"]]
    answer = await call(request, "eligibility", "POST", "/eligibility/v1/inquiries", json=inquiry)
    if answer.status == 422:
        return _eligibility_page(
            request, "Check eligibility", form, status_code=422, errors=_field_errors(answer.body)
        )
    if not answer.ok or not isinstance(answer.body, dict):
        return trouble(request, answer)
    summary = summarize(answer.body, request.app.state.settings.plan_name)
    return _eligibility_page(
        request, "Eligibility result", form, result=answer.body, summary=summary
    )


def _eligibility_page(
    request: Request, title: str, form: dict[str, str], status_code: int = 200, **context: Any
) -> Response:
    """The form (with the service types to ask about), and the answer if there is one."""
    values = {"result": None, **context}
    return render(
        request,
        "eligibility.html",
        title,
        status_code=status_code,
        form=form,
        service_types=SERVICE_TYPES,
        **values,
    )


def _field_errors(body: Any) -> list[str]:
    """Messages a person can act on, from a 422 problem's `errors` (or its detail)."""
    errors = body.get("errors") if isinstance(body, dict) else None
    messages = []
    for error in errors if isinstance(errors, list) else []:
        if isinstance(error, dict):
            field = label(str(error.get("field") or "form").split(".")[0])
            messages.append(f"{field}: {error.get('message') or 'not valid'}")
    if not messages:
        detail = body.get("detail") if isinstance(body, dict) else None
        messages.append(str(detail) if detail else "Check the member ID and dates and try again.")
    return messages
