"""The demo plan of docs/demo-data.md: Cascade Health Plan's providers, members and claims.

Idempotent: a second run finds the data and changes nothing.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from provider_data import npi
from provider_data.models import Claim, Coverage, Member, ProviderRecord

PROVIDERS = [
    ("123456789", npi.make("123456789"), "Evergreen Family Clinic"),
    ("987654321", npi.make("198765432"), "Evergreen Pediatrics"),
    ("444444444", npi.make("144444444"), "Lakeside Orthopedics"),
]
# member_id, first, last, date of birth, coverage start, coverage end
MEMBERS = [
    ("M1000101", "Jordan", "Rivera", date(1985, 4, 12), date(2025, 1, 1), None),
    ("M1000201", "Casey", "Morgan", date(1962, 9, 30), date(2023, 1, 1), date(2025, 12, 31)),
    ("M1000301", "Avery", "Chen", date(2016, 6, 3), date(2024, 7, 1), None),
    ("M1000401", "Riley", "Okafor", date(1978, 11, 21), date(2026, 1, 1), None),
]
STATUSES = ["received", "pended", "paid", "denied"]


def _coverage(start: date, end: date | None, plan_name: str) -> Coverage:
    return Coverage(
        plan_name=plan_name,
        product="Cascade Choice PPO",
        effective_date=start,
        termination_date=end,
        copay_office_visit=Decimal("25.00"),
        deductible_individual=Decimal("1500.00"),
        deductible_met=Decimal("350.00"),
        out_of_pocket_max=Decimal("6000.00"),
        out_of_pocket_met=Decimal("410.00"),
    )


def _claim(number: int, member: Member, tin: str, npi_: str, status: str) -> Claim:
    billed = Decimal(120 + 35 * number)
    allowed = (
        (billed * Decimal("0.8")).quantize(Decimal("0.01"))
        if status != "denied"
        else Decimal("0.00")
    )
    paid = (allowed - Decimal("25.00")) if status == "paid" else Decimal("0.00")
    return Claim(
        claim_number=f"C-2026-{number:06d}",
        member=member,
        billing_tin=tin,
        billing_npi=npi_,
        service_date=date(2026, 1 + number % 9, 1 + number % 27),
        received_date=date(2026, 1 + number % 9, 28),
        status=status,
        billed_amount=billed,
        allowed_amount=allowed,
        paid_amount=paid,
        patient_responsibility=Decimal("25.00") if status == "paid" else Decimal("0.00"),
        denial_reason="CO-16: claim lacks information needed for adjudication"
        if status == "denied"
        else None,
    )


async def seed_demo(session: AsyncSession, plan_name: str = "Cascade Health Plan") -> bool:
    """Create the demo data; False when it was already there."""
    if await session.scalar(select(ProviderRecord).limit(1)) is not None:
        return False
    for tin, provider_npi, name in PROVIDERS:
        session.add(
            ProviderRecord(npi=provider_npi, tin=tin, name=name, effective_from=date(2020, 1, 1))
        )
    members = []
    for member_id, first, last, born, start, end in MEMBERS:
        member = Member(member_id=member_id, first_name=first, last_name=last, date_of_birth=born)
        member.coverages = [_coverage(start, end, plan_name)]
        members.append(member)
        session.add(member)
    number = 0
    for tin, npi_, _ in PROVIDERS:
        for status in STATUSES:
            for member in members[:2]:
                number += 1
                session.add(_claim(number, member, tin, npi_, status))
    await session.flush()
    return True
