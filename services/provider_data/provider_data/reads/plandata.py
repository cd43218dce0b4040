"""Reading the plan's data: members by card ID, coverage on a date, what remains of a
limit (the eligibility answer's own reads are `provider_data.reads.eligibility`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from provider_data.platform.models import (
    ZERO,
    Coverage,
    Member,
    Product,
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


@dataclass
class Limit:
    """One deductible or out-of-pocket maximum with what has been met toward it."""

    amount: Decimal
    met: Decimal

    @property
    def remaining(self) -> Decimal:
        return max(self.amount - self.met, ZERO)
