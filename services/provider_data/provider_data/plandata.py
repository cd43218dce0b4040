"""Reading the plan's data: members by card ID, coverage on a date, a provider's
network for a product, benefits and the accumulators met in a plan year."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from provider_data.models import (
    ZERO,
    Accumulator,
    Benefit,
    CostShareLimit,
    Coverage,
    Member,
    Product,
    VisitUsage,
)

MEMBER_ID = re.compile(r"^[A-Z0-9]{2,18}[0-9]{2}$")


def normalize_member_id(raw: str) -> str:
    """The member ID as stored: cards print a `*` before the two-digit suffix, and
    people type spaces or dashes; none of them is part of the ID."""
    return re.sub(r"[\s*\-]", "", raw).upper()


def split_member_id(member_id: str) -> tuple[str, str]:
    """(subscriber ID, two-digit suffix)."""
    return member_id[:-2], member_id[-2:]


def in_effect(start: date, end: date | None, on: date) -> bool:
    return start <= on and (end is None or end >= on)


async def find_member(session: AsyncSession, raw_id: str, *, full: bool = True) -> Member | None:
    """The member with coverages and products; with plans and PCP too when `full`."""
    coverages = selectinload(Member.coverages).selectinload(Coverage.product)
    options = (
        [coverages.selectinload(Product.plan), selectinload(Member.pcp)] if full else [coverages]
    )
    query = select(Member).options(*options).where(Member.member_id == normalize_member_id(raw_id))
    return await session.scalar(query)


def coverage_on(member: Member, on: date) -> Coverage | None:
    for coverage in member.coverages:
        if in_effect(coverage.effective_date, coverage.termination_date, on):
            return coverage
    return None


async def benefits_of(session: AsyncSession, product_id: int) -> list[Benefit]:
    query = select(Benefit).where(Benefit.product_id == product_id)
    return list(await session.scalars(query.order_by(Benefit.service_type_code, Benefit.network)))


@dataclass
class Limit:
    """One deductible or out-of-pocket maximum with what has been met toward it."""

    amount: Decimal
    met: Decimal

    @property
    def remaining(self) -> Decimal:
        return max(self.amount - self.met, ZERO)


LimitKey = tuple[str, str, str]  # kind, level, network


async def limits_of(
    session: AsyncSession, member: Member, product_id: int, year: int
) -> dict[LimitKey, Limit]:
    """Deductibles and out-of-pocket maximums with amounts met in the plan year."""
    limits = await session.scalars(
        select(CostShareLimit).where(CostShareLimit.product_id == product_id)
    )
    rows = await session.scalars(
        select(Accumulator).where(
            Accumulator.holder.in_([member.member_id, member.subscriber_id]),
            Accumulator.plan_year == year,
        )
    )
    met: dict[LimitKey, Decimal] = {}
    for row in rows:
        if (row.level == "individual") == (row.holder == member.member_id):
            met[(row.kind, row.level, row.network)] = row.met
    return {
        (c.kind, c.level, c.network): Limit(c.amount, met.get((c.kind, c.level, c.network), ZERO))
        for c in limits
    }


async def visits_used(session: AsyncSession, member: Member, year: int) -> dict[str, int]:
    rows = await session.scalars(
        select(VisitUsage).where(VisitUsage.member_id == member.id, VisitUsage.plan_year == year)
    )
    return {row.service_type_code: row.used for row in rows}
