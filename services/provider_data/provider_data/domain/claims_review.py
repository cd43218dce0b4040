"""Medical review of a pended claim: approved (adjudicated as usual, accumulators
change) or denied (CO-50 on every line). The claim's history records the step."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from provider_data.domain import adjudication as engine
from provider_data.domain.edits import Context
from provider_data.domain.intake import Intake, engine_lines
from provider_data.platform.models import (
    Claim,
    ClaimAdjustment,
    ClaimLine,
    ClaimStatusEvent,
    ProviderRecord,
)
from provider_data.reads import plandata


class ReviewError(Exception):
    """The claim cannot be reviewed; the message says why."""


async def _pended(session: AsyncSession, number: str) -> Claim:
    claim = await session.scalar(
        select(Claim)
        .options(
            selectinload(Claim.lines).selectinload(ClaimLine.adjustments),
            selectinload(Claim.history),
            selectinload(Claim.member),
        )
        .where(Claim.claim_number == number)
    )
    if claim is None:
        raise ReviewError(f"no claim {number}")
    if claim.status != "pended":
        raise ReviewError(f"claim {number} is {claim.status}, not pended for review")
    return claim


async def _context(session: AsyncSession, claim: Claim) -> Context:
    member = await plandata.find_member(session, claim.member.member_id)
    coverage = plandata.coverage_on(member, claim.service_date) if member else None
    provider = await session.scalar(
        select(ProviderRecord).where(ProviderRecord.npi == claim.billing_npi)
    )
    if member is None or coverage is None or provider is None:
        raise ReviewError(
            f"claim {claim.claim_number}: its member's coverage or its provider record is gone"
        )
    return Context(member, coverage, provider, claim.network or provider.network_status)


async def review(session: AsyncSession, number: str, approve: bool, today: date) -> Claim:
    """Finish a pended claim; the caller commits."""
    claim = await _pended(session, number)
    ctx = await _context(session, claim)
    items = [
        (row.procedure_code, tuple(m for m in row.modifiers.split(",") if m), row.units, row.charge)
        for row in claim.lines
    ]
    intake = Intake(session, today)
    lines = await engine_lines(items, ctx, intake.lookups)
    if approve:
        await intake.lock([ctx], [claim.service_date])
        result = await intake.settle(
            ctx, lines, claim.service_date, bool(claim.prior_authorization), reviewed=True
        )
    else:
        result = engine.denied_on_review(lines)
    _apply(claim, result, today, "approved on medical review" if approve else result.note)
    await session.flush()
    return claim


def _apply(claim: Claim, result: engine.ClaimResult, today: date, note: str) -> None:
    for row, outcome in zip(claim.lines, result.lines, strict=True):
        row.status, row.allowed, row.paid = outcome.status, outcome.allowed, outcome.paid
        row.deductible, row.copay, row.coinsurance = (
            outcome.deductible,
            outcome.copay,
            outcome.coinsurance,
        )
        row.remarks = ",".join(outcome.remarks)
        row.adjustments = [
            ClaimAdjustment(group_code=group, reason_code=code, amount=amount)
            for group, code, amount in outcome.adjustments
        ]
    claim.status = result.status
    claim.adjudicated_date = today
    claim.allowed_amount = result.total("allowed")
    claim.paid_amount = result.total("paid")
    claim.patient_responsibility = result.total("patient_responsibility")
    claim.denial_reason = None if result.status == "paid" else result.note
    claim.history.append(ClaimStatusEvent(status=result.status, on=today, note=note))
