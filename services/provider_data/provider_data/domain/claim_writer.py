"""Writing accepted claims with a few bulk statements: claims (numbered from their
ids), lines, CARC adjustments and status history; read back for the answer."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from provider_data.documents.claims import ClaimIn
from provider_data.domain import adjudication as engine
from provider_data.domain.edits import Context, first_service_date
from provider_data.platform.models import Claim, ClaimAdjustment, ClaimLine, ClaimStatusEvent


@dataclass
class Accepted:
    """A claim that passed its edits, with its context, engine lines and result: what
    `write_accepted` writes."""

    index: int
    claim: ClaimIn
    ctx: Context
    lines: list[engine.Line]
    result: engine.ClaimResult


def claim_number(received: date, ident: int) -> str:
    return f"C-{received.year}-{ident:08d}"


async def write_accepted(
    session: AsyncSession, today: date, accepted: list[Accepted]
) -> dict[int, Claim]:
    """Store the accepted claims; them by their index in the request."""
    if not accepted:
        return {}
    ids = await _insert_ids(session, Claim, [_claim_row(a, today) for a in accepted])
    await session.execute(
        update(Claim), [{"id": i, "claim_number": claim_number(today, i)} for i in ids]
    )
    line_rows, outcomes, events = [], [], []
    for claim_id, a in zip(ids, accepted, strict=True):
        for number, (line, outcome) in enumerate(zip(a.lines, a.result.lines, strict=True), 1):
            line_rows.append(_line_row(claim_id, number, a.claim, line, outcome))
            outcomes.append(outcome)
        events += [
            {
                "claim_id": claim_id,
                "status": "received",
                "on": today,
                "note": "received electronically",
            },
            {
                "claim_id": claim_id,
                "status": a.result.status,
                "on": today,
                "note": a.result.note,
            },
        ]
    line_ids = await _insert_ids(session, ClaimLine, line_rows)
    adjustments = [
        {"line_id": line_id, "group_code": g, "reason_code": c, "amount": amount}
        for line_id, outcome in zip(line_ids, outcomes, strict=True)
        for g, c, amount in outcome.adjustments
    ]
    if adjustments:
        await session.execute(insert(ClaimAdjustment), adjustments)
    await session.execute(insert(ClaimStatusEvent), events)
    stored = await session.scalars(
        select(Claim)
        .options(joinedload(Claim.member), selectinload(Claim.history))
        .where(Claim.id.in_(ids))
        .execution_options(populate_existing=True)
    )
    by_id = {c.id: c for c in stored}
    return {a.index: by_id[i] for i, a in zip(ids, accepted, strict=True)}


def _claim_row(a: Accepted, today: date) -> dict[str, Any]:
    status, claim = a.result.status, a.claim
    return {
        "claim_number": f"T-{uuid.uuid4().hex[:26]}",
        "member_id": a.ctx.member.id,
        "billing_tin": a.ctx.provider.tin,
        "billing_npi": claim.billing_provider.npi,
        "rendering_npi": claim.rendering_provider_npi,
        "patient_control_number": claim.patient_control_number,
        "diagnoses": ",".join(code.upper() for code in claim.diagnoses),
        "place_of_service": claim.place_of_service,
        "prior_authorization": claim.prior_authorization,
        "network": a.ctx.network,
        "service_date": first_service_date(claim),
        "received_date": today,
        "adjudicated_date": None if status == "pended" else today,
        "status": status,
        "billed_amount": claim.total_charge,
        "allowed_amount": a.result.total("allowed"),
        "paid_amount": a.result.total("paid"),
        "patient_responsibility": a.result.total("patient_responsibility"),
        "denial_reason": None if status in ("paid", "pended") else a.result.note,
    }


def _line_row(
    claim_id: int, number: int, claim: ClaimIn, line: engine.Line, outcome: engine.LineResult
) -> dict[str, Any]:
    return {
        "claim_id": claim_id,
        "line_number": number,
        "procedure_code": line.procedure_code,
        "modifiers": ",".join(line.modifiers),
        "units": line.units,
        "charge": line.charge,
        "service_date": claim.lines[number - 1].service_date,
        "service_type_code": line.service_type_code,
        "status": outcome.status,
        "allowed": outcome.allowed,
        "deductible": outcome.deductible,
        "copay": outcome.copay,
        "coinsurance": outcome.coinsurance,
        "paid": outcome.paid,
        "remarks": ",".join(outcome.remarks),
    }


async def _insert_ids(session: AsyncSession, model: Any, rows: list[dict[str, Any]]) -> list[int]:
    table = model.__table__
    result = await session.execute(
        insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
    )
    return [row.id for row in result]
