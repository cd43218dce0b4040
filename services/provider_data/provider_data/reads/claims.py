"""Reading claims for the claims API in SQLAlchemy Core: joined rows, no ORM objects.

A search is one query (the page of claims with their members' IDs, joined to their
status history); a claim is one query (with its member's ID and history), and its
Explanation of Benefits one more (lines joined to their adjustments).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from provider_data.platform.models import (
    Claim,
    ClaimAdjustment,
    ClaimLine,
    ClaimStatusEvent,
    Member,
)

CLAIM_COLUMNS = (
    Claim.id,
    Claim.claim_number,
    Claim.patient_control_number,
    Claim.billing_tin,
    Claim.billing_npi,
    Claim.rendering_npi,
    Claim.network,
    Claim.service_date,
    Claim.received_date,
    Claim.adjudicated_date,
    Claim.status,
    Claim.billed_amount,
    Claim.allowed_amount,
    Claim.paid_amount,
    Claim.patient_responsibility,
    Claim.denial_reason,
)
HISTORY_COLUMNS = (ClaimStatusEvent.status, ClaimStatusEvent.on, ClaimStatusEvent.note)


@dataclass(frozen=True)
class MemberRef:
    member_id: str


@dataclass(frozen=True)
class StatusEvent:
    status: str
    on: date
    note: str


@dataclass
class ClaimView:
    """A claim as the answers show it (`claim_output.claim_out` reads it like a Claim)."""

    id: int
    claim_number: str
    patient_control_number: str | None
    billing_tin: str
    billing_npi: str
    rendering_npi: str | None
    network: str | None
    service_date: date
    received_date: date
    adjudicated_date: date | None
    status: str
    billed_amount: Decimal
    allowed_amount: Decimal
    paid_amount: Decimal
    patient_responsibility: Decimal
    denial_reason: str | None
    member: MemberRef = MemberRef("")
    history: list[StatusEvent] = field(default_factory=list)


def _claims(rows: Any) -> list[ClaimView]:
    """Rows of (claim columns, member ID, history columns) folded into claims, in order."""
    found: dict[int, ClaimView] = {}
    width = len(CLAIM_COLUMNS)
    for row in rows:
        claim = found.get(row[0])
        if claim is None:
            claim = found[row[0]] = ClaimView(*row[:width])
            claim.member = MemberRef(row[width])
        if row[width + 1] is not None:
            claim.history.append(StatusEvent(*row[width + 1 :]))
    return list(found.values())


def search_query(
    tins: list[str],
    member: str | None,
    status: str | None,
    since: date | None,
    until: date | None,
    number: str | None,
    after: tuple[date, int] | None,
    limit: int,
    *,
    backward: bool = False,
) -> Select[Any]:
    """The page (newest service date first) as a subquery, joined to its history.

    Each TIN's newest claims come from its own walk of `ix_claims_search` (billing TIN,
    service date, id), at most `limit` each, merged: the cost follows the page, not the
    number of claims on file under those TINs. `backward` takes the `limit` claims just
    newer than `after` instead (the previous page), still answered newest first."""

    def newest(tin: str) -> Select[*tuple[Any, ...]]:
        query = (
            select(*CLAIM_COLUMNS, Member.member_id.label("member_number"))
            .join(Member, Member.id == Claim.member_id)
            .where(Claim.billing_tin == tin)
        )
        for wanted, test in (
            (member, lambda: Member.member_id == member),
            (status, lambda: Claim.status == status),
            (since, lambda: Claim.service_date >= since),
            (until, lambda: Claim.service_date <= until),
            (number, lambda: Claim.claim_number == number),
        ):
            if wanted is not None:
                query = query.where(test())
        if after is not None:
            query = query.where(_beyond(after, backward))
        return query.order_by(*_walk(Claim.service_date, Claim.id, backward)).limit(limit)

    if len(tins) == 1:
        found = newest(tins[0]).subquery()
    else:
        merged = union_all(*(select(newest(tin).subquery()) for tin in tins)).subquery()
        found = (
            select(merged)
            .order_by(*_walk(merged.c.service_date, merged.c.id, backward))
            .limit(limit)
            .subquery()
        )
    event = ClaimStatusEvent
    return (
        select(found, *HISTORY_COLUMNS)
        .outerjoin(event, event.claim_id == found.c.id)
        .order_by(found.c.service_date.desc(), found.c.id.desc(), event.id)
    )


def _beyond(after: tuple[date, int], backward: bool) -> ColumnElement[bool]:
    """Claims older than the position (the next page), or newer (`backward`)."""
    day, ident = after
    if backward:
        return or_(Claim.service_date > day, and_(Claim.service_date == day, Claim.id > ident))
    return or_(Claim.service_date < day, and_(Claim.service_date == day, Claim.id < ident))


def _walk(day: Any, ident: Any, backward: bool) -> tuple[Any, Any]:
    """Newest first, or (`backward`) oldest first from the position."""
    return (day.asc(), ident.asc()) if backward else (day.desc(), ident.desc())


async def search(session: AsyncSession, query: Select[Any]) -> list[ClaimView]:
    return _claims(await session.execute(query))


async def claim_by_number(session: AsyncSession, number: str) -> ClaimView | None:
    event = ClaimStatusEvent
    query = (
        select(*CLAIM_COLUMNS, Member.member_id, *HISTORY_COLUMNS)
        .join(Member, Member.id == Claim.member_id)
        .outerjoin(event, event.claim_id == Claim.id)
        .where(Claim.claim_number == number)
        .order_by(event.id)
    )
    found = _claims(await session.execute(query))
    return found[0] if found else None


@dataclass(frozen=True)
class Adjustment:
    group_code: str
    reason_code: str
    amount: Decimal


@dataclass
class LineView:
    line_number: int
    procedure_code: str
    modifiers: str
    units: int
    service_date: date
    service_type_code: str | None
    status: str
    charge: Decimal
    allowed: Decimal
    deductible: Decimal
    copay: Decimal
    coinsurance: Decimal
    paid: Decimal
    remarks: str
    adjustments: list[Adjustment] = field(default_factory=list)


async def lines_of(session: AsyncSession, claim_id: int) -> list[LineView]:
    """A claim's lines by number, each with its adjustments: one query."""
    line, adj = ClaimLine, ClaimAdjustment
    query = (
        select(
            line.id,
            line.line_number,
            line.procedure_code,
            line.modifiers,
            line.units,
            line.service_date,
            line.service_type_code,
            line.status,
            line.charge,
            line.allowed,
            line.deductible,
            line.copay,
            line.coinsurance,
            line.paid,
            line.remarks,
            adj.group_code,
            adj.reason_code,
            adj.amount,
        )
        .outerjoin(adj, adj.line_id == line.id)
        .where(line.claim_id == claim_id)
        .order_by(line.line_number, adj.id)
    )
    found: dict[int, LineView] = {}
    for ident, *values in await session.execute(query):
        view = found.get(ident)
        if view is None:
            view = found[ident] = LineView(*values[:14])
        if values[14] is not None:
            view.adjustments.append(Adjustment(*values[14:]))
    return list(found.values())
