"""The portal's claim pages: search (a GET address, paged both ways), a claim with
why it was denied and its Explanation of Benefits, and that EOB as a PDF.

Searching by member ID is a POST that leads on to the search's GET address without
the member ID in it (claim_search). The claims API decides what the person may see;
its refusals are explained in the page's words.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from gateway.portal import csrf
from gateway.portal.auth import portal_session
from gateway.portal.claim_search import (
    PAGE_SIZES,
    STATUSES,
    Search,
    api_errors,
    from_post,
    from_query,
    not_yours,
)
from gateway.portal.claim_view import claim_row, claim_view
from gateway.portal.eob_pdf import eob_pdf
from gateway.portal.pages import CLAIM_NUMBER, form_refused, signed_in, trouble
from gateway.portal.plan import Answer, call
from gateway.portal.views import render

router = APIRouter(prefix="/portal")
GONE_PAGE = "This page of results no longer exists; start again from the first page."


def _search_page(
    request: Request, search: Search, status_code: int = 200, body: dict[str, Any] | None = None
) -> Response:
    body = body or {}
    previous, following = body.get("previous_cursor"), body.get("next_cursor")
    return render(
        request,
        "claims.html",
        "Claims",
        status_code=status_code,
        form=search.form,
        errors=search.errors,
        claims=[claim_row(c) for c in body.get("claims", []) if isinstance(c, dict)],
        searched=bool(body),
        previous_url=search.url(previous) if isinstance(previous, str) else None,
        next_url=search.url(following) if isinstance(following, str) else None,
        first_url=search.url() if search.cursor else None,
        statuses=STATUSES,
        page_sizes=PAGE_SIZES,
    )


def _refusal(request: Request, search: Search, answer: Answer) -> Response | None:
    """The search page for what the person can fix; None for the other troubles."""
    reason = answer.body.get("reason") if isinstance(answer.body, dict) else None
    if answer.status == 403 and reason == "tin_not_yours":
        search.errors.append(not_yours(search.form.get("tin", "")))
        return _search_page(request, search, 403)
    if answer.status == 422:
        search.errors.extend(api_errors(answer.body))
        return _search_page(request, search, 422)
    if answer.status == 400:  # a cursor the API no longer reads (or never gave)
        search.errors.append(GONE_PAGE)
        return _search_page(request, search, 400)
    return None


@router.get("/claims")
@signed_in
async def claims_list(request: Request) -> Response:
    search = from_query(dict(request.query_params), portal_session(request).data)
    if search.errors:
        return _search_page(request, search, 422)
    params = search.api_params()
    answer = await call(request, "claims", "GET", "/claims/v1/claims", params=params)
    if not answer.ok:
        return _refusal(request, search, answer) or trouble(request, answer)
    return _search_page(request, search, body=answer.body if isinstance(answer.body, dict) else {})


@router.post("/claims")
@signed_in
async def claims_search(request: Request) -> Response:
    async with request.form() as submitted:
        form = {k: str(v).strip() for k, v in submitted.items() if isinstance(v, str)}
    session = portal_session(request).data
    if not csrf.valid(session, form.get(csrf.FIELD)):
        return form_refused(request)
    search = from_post(form, session)
    if search.errors:
        return _search_page(request, search, 422)
    return RedirectResponse(search.url(), status_code=303)


async def _claim(request: Request, number: str) -> tuple[Answer, Answer | None]:
    if not CLAIM_NUMBER.fullmatch(number):
        return Answer(404, None), None
    answer = await call(request, "claims", "GET", f"/claims/v1/claims/{number}")
    if not answer.ok or not isinstance(answer.body, dict):
        return answer, None
    return answer, await call(request, "claims", "GET", f"/claims/v1/claims/{number}/eob")


def _lines(eob: Answer | None) -> list[dict[str, Any]] | None:
    if eob is None or not eob.ok or not isinstance(eob.body, dict):
        return None
    lines = eob.body.get("lines")
    return [line for line in lines if isinstance(line, dict)] if isinstance(lines, list) else None


@router.get("/claims/{claim_number}")
@signed_in
async def claim_detail(request: Request, claim_number: str) -> Response:
    answer, eob = await _claim(request, claim_number)
    if not answer.ok or not isinstance(answer.body, dict):
        return trouble(request, answer)
    view = claim_view(answer.body, _lines(eob))
    return render(
        request,
        "claim.html",
        f"Claim {view.number}",
        claim=view,
        amounts_refused=eob is not None and eob.status == 403,
    )


@router.get("/claims/{claim_number}/eob.pdf")
@signed_in
async def claim_eob_pdf(request: Request, claim_number: str) -> Response:
    answer, eob = await _claim(request, claim_number)
    if not answer.ok or not isinstance(answer.body, dict):
        return trouble(request, answer)
    lines = _lines(eob)
    if eob is None or lines is None:
        return trouble(request, eob or answer)
    settings = request.app.state.settings
    document = eob_pdf(claim_view(answer.body, lines), settings.plan_name, settings.plan_contact)
    filename = f"EOB-{claim_number}.pdf"
    return Response(
        document,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
