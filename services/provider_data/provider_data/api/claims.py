"""The claims app: search, claim status (X12 276/277-like) and the Explanation of
Benefits; submission lives in claims_submit.

A claim is visible only under a Tax ID it was billed with: searching filters by the
token's TINs in SQL, and a claim billed under another TIN answers exactly like a
claim that does not exist. Amounts show only to roles the policy table lets see them.
Run with `uvicorn --factory provider_data.api.claims:create_app --no-proxy-headers`
(forwarded headers are trusted only from the configured proxies, policy.forwarded).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from policy import Decision, Principal, Resource, TokenVerifier, decide
from policy.decision import format_tin
from provider_data.api import claims_submit
from provider_data.api.claim_output import claim_out
from provider_data.api.deps import CurrentPrincipal, SessionDep
from provider_data.api.service import build_app
from provider_data.documents.claims import (
    AdjustmentOut,
    ClaimList,
    ClaimOut,
    Eob,
    EobLine,
    RemarkOut,
    Status,
)
from provider_data.documents.identifiers import TIN_PATTERN, TIN_RULE
from provider_data.documents.x12 import CARC, RARC, SERVICE_TYPES
from provider_data.domain import access
from provider_data.platform.problems import Problem, not_found
from provider_data.platform.settings import Settings
from provider_data.reads import claims as claim_reads
from provider_data.reads import plandata

router = APIRouter(prefix="/claims/v1", tags=["claims"])
MAX_ID = 2**63 - 1  # the largest BIGINT
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such claim under your Tax IDs."}
}


def may_see_amounts(principal: Principal, tin: str) -> bool:
    return decide(principal, "claim.amounts", Resource.claim(tin)).allowed


BACKWARD = "before"  # a cursor's third part: the page just newer than its claim


@dataclass(frozen=True)
class Position:
    """Where a page starts: after a claim (the next page) or before it (the previous)."""

    day: date
    ident: int
    backward: bool = False


def _cursor(claim: claim_reads.ClaimView, backward: bool = False) -> str:
    raw = f"{claim.service_date.isoformat()}|{claim.id}" + (f"|{BACKWARD}" if backward else "")
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _position(cursor: str) -> Position:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        day, ident, *rest = raw.split("|")
        if rest not in ([], [BACKWARD]):
            raise ValueError("not a direction")
        position = Position(date.fromisoformat(day), int(ident), bool(rest))
        if not 0 <= position.ident <= MAX_ID:  # beyond any id: databases refuse the number
            raise ValueError("cursor id out of range")
        return position
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise Problem(
            400,
            "Bad cursor",
            "The cursor is not one this API gave; start again without it.",
            "bad-cursor",
        ) from error


def _check_dates(since: date | None, until: date | None) -> None:
    if since and until and since > until:
        message = f"The range ends ({until}) before it starts ({since})."
        raise Problem(
            422,
            "The request is not valid",
            f"service_date_to: {message}",
            "validation",
            errors=[{"field": "service_date_to", "message": message}],
        )


@dataclass(frozen=True)
class Search:
    """One search's filters, read a page at a time in either direction."""

    tins: list[str]
    member: str | None
    status: str | None
    since: date | None
    until: date | None
    number: str | None
    limit: int

    async def _read(
        self, session: AsyncSession, at: Position | None, backward: bool, size: int
    ) -> list[claim_reads.ClaimView]:
        query = claim_reads.search_query(
            self.tins,
            self.member,
            self.status,
            self.since,
            self.until,
            self.number,
            (at.day, at.ident) if at else None,
            size,
            backward=backward,
        )
        return await claim_reads.search(session, query)

    async def page(
        self, session: AsyncSession, at: Position | None
    ) -> tuple[list[claim_reads.ClaimView], str | None, str | None]:
        """The page at `at`, and the cursors of the pages after and before it (or None).

        A page reached going forward looks one claim back (one more statement) to know
        whether a previous page exists; the first page and pages reached going back
        know it from the read itself (a claim beyond the page was read, or not)."""
        backward = bool(at and at.backward)
        found = await self._read(session, at, backward, self.limit + 1)
        more = len(found) > self.limit  # beyond this page, in the direction it was read
        page = found[-self.limit :] if backward else found[: self.limit]
        if not page:
            return page, None, None
        newer, older = (more, True) if backward else (at is not None, more)
        if newer and not backward:
            first = Position(page[0].service_date, page[0].id)
            newer = bool(await self._read(session, first, True, 1))
        return (
            page,
            _cursor(page[-1]) if older else None,
            _cursor(page[0], backward=True) if newer else None,
        )


async def _search_tins(
    session: AsyncSession,
    request: Request,
    principal: Principal,
    decision: Decision,
    tin: str | None,
) -> list[str]:
    if tin is None:
        return sorted(decision.matched_tax_ids)
    wanted = tin.replace("-", "")
    if wanted in decision.matched_tax_ids:
        return [wanted]
    denied = decide(principal, "claims.read", Resource.plan([]))
    await access.record(session, request, principal, denied, tax_id=wanted[:9], read_only=True)
    raise Problem(
        403,
        "Access denied",
        f"Tax ID {format_tin(wanted)} is not one of your account's Tax IDs with a provider "
        "record at this plan. Leave `tin` out to search under all of yours.",
        "tin-not-yours",
        reason="tin_not_yours",
    )


@router.get("/claims", response_model=ClaimList, summary="Search claims under your Tax IDs")
async def list_claims(
    request: Request,
    principal: CurrentPrincipal,
    session: SessionDep,
    member_id: Annotated[str | None, Query(max_length=24)] = None,
    status: Status | None = None,
    service_date_from: date | None = None,
    service_date_to: date | None = None,
    tin: Annotated[str | None, Query(pattern=TIN_PATTERN, description=TIN_RULE)] = None,
    claim_number: Annotated[str | None, Query(max_length=30)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> ClaimList:
    """Claims billed under the token's Tax IDs, newest service date first, a page at a time."""
    _check_dates(service_date_from, service_date_to)
    decision, _ = await access.authorize_plan(
        session, request, principal, "claims.read", date.today()
    )
    tins = await _search_tins(session, request, principal, decision, tin)
    member = plandata.normalize_member_id(member_id) if member_id else None
    search = Search(tins, member, status, service_date_from, service_date_to, claim_number, limit)
    page, next_cursor, previous_cursor = await search.page(
        session, _position(cursor) if cursor else None
    )
    claims = [claim_out(c, may_see_amounts(principal, c.billing_tin)) for c in page]
    shown = ((c.member_id, c.billing_tin) for c in claims)
    await access.record_disclosures(
        session, request, principal, decision, shown, member_filter=member, read_only=True
    )
    return ClaimList(
        claims=claims,
        count=len(claims),
        next_cursor=next_cursor,
        previous_cursor=previous_cursor,
    )


async def _readable(
    session: AsyncSession, request: Request, principal: Principal, number: str, action: str
) -> claim_reads.ClaimView:
    """The claim if billed under the token's TINs (audited); 404 exactly like a missing one."""
    await access.authorize_plan(session, request, principal, "claims.read", date.today())
    claim = await claim_reads.claim_by_number(session, number)
    if claim is None:
        raise not_found("claim")
    resource = Resource.claim(claim.billing_tin)
    decision = decide(principal, "claim.read", resource)
    if decision.allowed and action != "claim.read":
        decision = decide(principal, action, resource)
    await access.record(
        session,
        request,
        principal,
        decision,
        member_id=claim.member.member_id,
        tax_id=claim.billing_tin,
        read_only=True,
    )
    if decision.reason == "tin_not_billed":
        raise not_found("claim")
    if not decision.allowed:
        raise access.refusal(decision)
    return claim


@router.get(
    "/claims/{claim_number}",
    response_model=ClaimOut,
    responses=NOT_FOUND,
    summary="Claim status (276/277-like)",
)
async def get_claim(
    claim_number: str, request: Request, principal: CurrentPrincipal, session: SessionDep
) -> ClaimOut:
    """Status and its history, dates, and amounts billed, allowed, paid and owed by the
    patient (null for roles that may not see amounts); 404 unless billed under your TINs."""
    claim = await _readable(session, request, principal, claim_number, "claim.read")
    return claim_out(claim, may_see_amounts(principal, claim.billing_tin))


def _eob_line(line: claim_reads.LineView) -> EobLine:
    return EobLine(
        line_number=line.line_number,
        procedure_code=line.procedure_code,
        modifiers=[m for m in line.modifiers.split(",") if m],
        units=line.units,
        service_date=line.service_date,
        service_type_code=line.service_type_code,
        service_type=SERVICE_TYPES.get(line.service_type_code or ""),
        status=line.status,
        charge=line.charge,
        allowed=line.allowed,
        deductible=line.deductible,
        copay=line.copay,
        coinsurance=line.coinsurance,
        paid=line.paid,
        patient_responsibility=line.deductible + line.copay + line.coinsurance,
        adjustments=[
            AdjustmentOut(
                group_code=a.group_code,
                reason_code=a.reason_code,
                description=CARC.get(a.reason_code, ""),
                amount=a.amount,
            )
            for a in line.adjustments
        ],
        remarks=[
            RemarkOut(code=code, description=RARC.get(code, ""))
            for code in line.remarks.split(",")
            if code
        ],
    )


@router.get(
    "/claims/{claim_number}/eob",
    response_model=Eob,
    responses={**NOT_FOUND, 403: {"description": "Your role may not see claim amounts."}},
    summary="Explanation of Benefits, line by line",
)
async def get_eob(
    claim_number: str, request: Request, principal: CurrentPrincipal, session: SessionDep
) -> Eob:
    """How each line was priced: allowed amount, deductible, copay, coinsurance, paid,
    with CARC adjustments and RARC remarks. Needs a role that may see amounts."""
    claim = await _readable(session, request, principal, claim_number, "claim.amounts")
    lines = await claim_reads.lines_of(session, claim.id)
    return Eob(claim=claim_out(claim, True), lines=[_eob_line(line) for line in lines])


api = APIRouter()
api.include_router(claims_submit.router)
api.include_router(router)


def create_app(
    settings: Settings | None = None, *, verifier: TokenVerifier | None = None
) -> FastAPI:
    return build_app(
        "Claims",
        "Claim submission (837P-like), status (276/277-like) and Explanation of Benefits, "
        "visible only under the Tax IDs a claim was billed with.",
        api,
        settings,
        verifier,
    )
