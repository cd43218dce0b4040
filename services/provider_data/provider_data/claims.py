"""The claims app: list, search and read claims (X12 276/277-like status).

A claim is visible only under a Tax ID it was billed with: listing filters by the
token's TINs in SQL, and a claim billed under another TIN answers exactly like a
claim that does not exist. Run with `uvicorn --factory provider_data.claims:create_app`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, FastAPI, Query, Request
from pydantic import BaseModel, field_serializer
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from policy import Resource, TokenVerifier, decide
from provider_data import access
from provider_data.deps import CurrentPrincipal, SessionDep
from provider_data.models import Claim, Member
from provider_data.problems import not_found
from provider_data.service import build_app
from provider_data.settings import Settings

router = APIRouter(prefix="/claims/v1", tags=["claims"])
Status = Literal["received", "pended", "paid", "denied"]


class ClaimOut(BaseModel):
    claim_number: str
    member_id: str
    billing_tin: str
    billing_npi: str
    service_date: date
    received_date: date
    status: Status
    billed_amount: Decimal
    allowed_amount: Decimal
    paid_amount: Decimal
    patient_responsibility: Decimal
    denial_reason: str | None

    @field_serializer("billed_amount", "allowed_amount", "paid_amount", "patient_responsibility")
    def _money(self, value: Decimal) -> str:
        return f"{value:.2f}"


class ClaimList(BaseModel):
    claims: list[ClaimOut]
    count: int


def _out(claim: Claim) -> ClaimOut:
    return ClaimOut(
        claim_number=claim.claim_number,
        member_id=claim.member.member_id,
        billing_tin=claim.billing_tin,
        billing_npi=claim.billing_npi,
        service_date=claim.service_date,
        received_date=claim.received_date,
        status=claim.status,  # type: ignore[arg-type]
        billed_amount=claim.billed_amount,
        allowed_amount=claim.allowed_amount,
        paid_amount=claim.paid_amount,
        patient_responsibility=claim.patient_responsibility,
        denial_reason=claim.denial_reason,
    )


@router.get("/claims", response_model=ClaimList)
async def list_claims(
    request: Request,
    principal: CurrentPrincipal,
    session: SessionDep,
    member_id: Annotated[str | None, Query(max_length=20)] = None,
    status: Status | None = None,
    service_date_from: date | None = None,
    service_date_to: date | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> ClaimList:
    """Claims billed under the token's Tax IDs, newest service date first."""
    decision, _ = await access.authorize_plan(
        session, request, principal, "claims.read", date.today()
    )
    query = (
        select(Claim)
        .join(Claim.member)
        .options(joinedload(Claim.member))
        .where(Claim.billing_tin.in_(sorted(decision.matched_tax_ids)))
        .order_by(Claim.service_date.desc(), Claim.claim_number)
        .limit(limit)
    )
    member = member_id.strip().upper() if member_id else None
    if member:
        query = query.where(Member.member_id == member)
    if status:
        query = query.where(Claim.status == status)
    if service_date_from:
        query = query.where(Claim.service_date >= service_date_from)
    if service_date_to:
        query = query.where(Claim.service_date <= service_date_to)
    claims = [_out(c) for c in await session.scalars(query)]
    shown = ((c.member_id, c.billing_tin) for c in claims)
    await access.record_disclosures(
        session, request, principal, decision, shown, member_filter=member
    )
    await session.commit()
    return ClaimList(claims=claims, count=len(claims))


@router.get("/claims/{claim_number}", response_model=ClaimOut)
async def get_claim(
    claim_number: str, request: Request, principal: CurrentPrincipal, session: SessionDep
) -> ClaimOut:
    """One claim with its status and amounts; 404 unless billed under one of the token's TINs."""
    await access.authorize_plan(session, request, principal, "claims.read", date.today())
    claim = await session.scalar(
        select(Claim).options(joinedload(Claim.member)).where(Claim.claim_number == claim_number)
    )
    if claim is None:
        raise not_found("claim")
    decision = decide(principal, "claim.read", Resource.claim(claim.billing_tin))
    await access.record(
        session,
        request,
        principal,
        decision,
        member_id=claim.member.member_id,
        tax_id=claim.billing_tin,
    )
    await session.commit()
    if not decision.allowed:
        raise not_found("claim")
    return _out(claim)


def create_app(
    settings: Settings | None = None, *, verifier: TokenVerifier | None = None
) -> FastAPI:
    return build_app(
        "Claims",
        "Claim status and amounts, visible only under the Tax IDs a claim was billed with.",
        router,
        settings,
        verifier,
    )
