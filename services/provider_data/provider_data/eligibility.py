"""The eligibility app: is this member covered on this date, and for what (X12 270/271-like).

Run with `uvicorn --factory provider_data.eligibility:create_app`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from policy import TokenVerifier
from provider_data import access
from provider_data.deps import CurrentPrincipal, SessionDep
from provider_data.models import Coverage, Member
from provider_data.service import build_app
from provider_data.settings import Settings

router = APIRouter(prefix="/eligibility/v1", tags=["eligibility"])


class Inquiry(BaseModel):
    member_id: str = Field(min_length=1, max_length=20, examples=["M1000101"])
    date_of_birth: date = Field(examples=["1985-04-12"])
    date_of_service: date | None = Field(default=None, description="Defaults to today.")


class MemberOut(BaseModel):
    member_id: str
    first_name: str
    last_name: str
    date_of_birth: date


class PlanOut(BaseModel):
    name: str
    product: str


class CoverageOut(BaseModel):
    effective_date: date
    termination_date: date | None


class BenefitsOut(BaseModel):
    copay_office_visit: Decimal
    deductible_individual: Decimal
    deductible_met: Decimal
    out_of_pocket_max: Decimal
    out_of_pocket_met: Decimal


class ProviderOut(BaseModel):
    npi: str
    tin: str
    name: str


class EligibilityAnswer(BaseModel):
    status: Literal["active", "inactive", "not_found"]
    reason: Literal["member_not_found", "date_of_birth_mismatch", "coverage_not_active"] | None
    date_of_service: date
    member: MemberOut | None = None
    plan: PlanOut | None = None
    coverage: CoverageOut | None = None
    benefits: BenefitsOut | None = None
    matched_provider: ProviderOut


def _coverage_on(member: Member, on: date) -> Coverage | None:
    for coverage in member.coverages:
        if coverage.effective_date <= on and (
            coverage.termination_date is None or coverage.termination_date >= on
        ):
            return coverage
    return None


@router.post("/inquiries", response_model=EligibilityAnswer)
async def inquire(
    inquiry: Inquiry, request: Request, principal: CurrentPrincipal, session: SessionDep
) -> EligibilityAnswer:
    """Coverage of one member on a date of service, decided by the token's Tax IDs."""
    on = inquiry.date_of_service or date.today()
    decision, providers = await access.authorize_plan(
        session, request, principal, "eligibility.read", on
    )
    matched = ProviderOut(npi=providers[0].npi, tin=providers[0].tin, name=providers[0].name)
    member_id = inquiry.member_id.strip().upper()
    member = await session.scalar(
        select(Member).options(selectinload(Member.coverages)).where(Member.member_id == member_id)
    )
    answer = _answer(member, inquiry, on, matched)
    await access.record(
        session, request, principal, decision, member_id=member_id, tax_id=matched.tin
    )
    await session.commit()
    return answer


def _answer(
    member: Member | None, inquiry: Inquiry, on: date, matched: ProviderOut
) -> EligibilityAnswer:
    if member is None:
        return EligibilityAnswer(
            status="not_found",
            reason="member_not_found",
            date_of_service=on,
            matched_provider=matched,
        )
    if member.date_of_birth != inquiry.date_of_birth:
        return EligibilityAnswer(
            status="not_found",
            reason="date_of_birth_mismatch",
            date_of_service=on,
            matched_provider=matched,
        )
    shown = MemberOut.model_validate(member, from_attributes=True)
    coverage = _coverage_on(member, on)
    if coverage is None:
        latest = member.coverages[-1] if member.coverages else None
        return EligibilityAnswer(
            status="inactive",
            reason="coverage_not_active",
            date_of_service=on,
            member=shown,
            matched_provider=matched,
            plan=PlanOut(name=latest.plan_name, product=latest.product) if latest else None,
            coverage=CoverageOut.model_validate(latest, from_attributes=True) if latest else None,
        )
    return EligibilityAnswer(
        status="active",
        reason=None,
        date_of_service=on,
        member=shown,
        matched_provider=matched,
        plan=PlanOut(name=coverage.plan_name, product=coverage.product),
        coverage=CoverageOut.model_validate(coverage, from_attributes=True),
        benefits=BenefitsOut.model_validate(coverage, from_attributes=True),
    )


def create_app(
    settings: Settings | None = None, *, verifier: TokenVerifier | None = None
) -> FastAPI:
    return build_app(
        "Eligibility",
        "Member eligibility and benefits, for providers whose Tax IDs match a provider record.",
        router,
        settings,
        verifier,
    )
