"""The demo plan of docs/demo-data.md: Cascade Health Plan's catalog, provider records,
members and families, and claims that went through the front-end edits and the engine.

Idempotent: a second run finds the data and changes nothing.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from provider_data.data import catalog
from provider_data.documents import npi
from provider_data.documents.claims import ClaimIn
from provider_data.domain.intake import Intake, Received
from provider_data.domain.lookups import Lookups
from provider_data.platform.models import (
    Accumulator,
    Coverage,
    Member,
    Product,
    ProviderLocation,
    ProviderNetwork,
    ProviderRecord,
)

# tin, npi, name, taxonomy, from, to, address
PROVIDERS = [
    (
        "123456789",
        npi.make("123456789"),
        "Evergreen Family Clinic",
        "261QP2300X",
        date(2020, 1, 1),
        None,
        ("100 Evergreen Way", "Tacoma", "WA", "98402"),
    ),
    (
        "987654321",
        npi.make("198765432"),
        "Evergreen Pediatrics",
        "208000000X",
        date(2020, 1, 1),
        None,
        ("102 Evergreen Way", "Tacoma", "WA", "98402"),
    ),
    (
        "444444444",
        npi.make("144444444"),
        "Lakeside Orthopedics",
        "207X00000X",
        date(2020, 1, 1),
        None,
        ("9 Lakeshore Dr", "Seattle", "WA", "98109"),
    ),
    (
        "222222222",
        npi.make("122222222"),
        "Riverside Clinic (contract ended)",
        "261QP2300X",
        date(2018, 1, 1),
        date(2024, 12, 31),
        ("5 River Rd", "Olympia", "WA", "98501"),
    ),
]
# member_id, first, last, relation, birth, product, start, end, PCP TIN
MEMBERS = [
    (
        "M1000101",
        "Jordan",
        "Rivera",
        "subscriber",
        date(1985, 4, 12),
        "CHP-PPO",
        date(2025, 1, 1),
        None,
        "123456789",
    ),
    (
        "M1000102",
        "Sam",
        "Rivera",
        "spouse",
        date(1987, 8, 19),
        "CHP-PPO",
        date(2025, 1, 1),
        None,
        "123456789",
    ),
    (
        "M1000103",
        "Mia",
        "Rivera",
        "child",
        date(2015, 2, 27),
        "CHP-PPO",
        date(2025, 1, 1),
        None,
        "987654321",
    ),
    (
        "M1000201",
        "Casey",
        "Morgan",
        "subscriber",
        date(1962, 9, 30),
        "CHP-PPO",
        date(2023, 1, 1),
        date(2025, 12, 31),
        "123456789",
    ),
    (
        "M1000301",
        "Avery",
        "Chen",
        "subscriber",
        date(2016, 6, 3),
        "CHP-HMO",
        date(2024, 7, 1),
        None,
        "987654321",
    ),
    (
        "M1000401",
        "Riley",
        "Okafor",
        "subscriber",
        date(1978, 11, 21),
        "CHP-HMO",
        date(2026, 1, 1),
        None,
        None,
    ),
]
# Amounts met before the demo's claims: Jordan has met $350 of the deductible in 2026.
MET = [("M1000101", "individual"), ("M10001", "family")]
# One claim of each outcome per provider: lines as (procedure, modifiers, charge).
CLAIM_KINDS: list[list[tuple[str, list[str], str]]] = [
    [("99213", [], "150.00")],  # paid: copay
    [("99213", [], "150.00"), ("29881", [], "4000.00")],  # partially paid: no authorization
    [("29881", [], "4000.00")],  # denied: no authorization
    [("99214", ["22"], "220.00")],  # pended: modifier 22, medical review
]


def _providers(products: dict[str, Product], tins: frozenset[str]) -> dict[str, ProviderRecord]:
    records = {}
    for tin, number, name, taxonomy, start, end, (line, city, state, postal) in PROVIDERS:
        if tin not in tins:
            continue
        record = ProviderRecord(
            npi=number,
            tin=tin,
            name=name,
            taxonomy=taxonomy,
            effective_from=start,
            effective_to=end,
        )
        record.locations = [
            ProviderLocation(address_line=line, city=city, state=state, postal_code=postal)
        ]
        records[tin] = record
    if "444444444" in records:
        hmo = products["CHP-HMO"]
        records["444444444"].networks = [
            ProviderNetwork(product_id=hmo.id, status="out_of_network")
        ]
    return records


def _members(products: dict[str, Product], providers: dict[str, ProviderRecord]) -> list[Member]:
    members = []
    for member_id, first, last, relation, born, product, start, end, pcp in MEMBERS:
        member = Member(
            member_id=member_id,
            subscriber_id=member_id[:-2],
            relation=relation,
            first_name=first,
            last_name=last,
            date_of_birth=born,
            pcp=providers.get(pcp) if pcp else None,
        )
        member.coverages = [
            Coverage(product=products[product], effective_date=start, termination_date=end)
        ]
        members.append(member)
    return members


def demo_claim(kind: int, tin: str, provider_npi: str, member: str, on: date) -> dict[str, Any]:
    lines = [
        {
            "procedure_code": code,
            "modifiers": mods,
            "charge": charge,
            "service_date": on.isoformat(),
            "units": 1,
        }
        for code, mods, charge in CLAIM_KINDS[kind]
    ]
    return {
        "patient_control_number": f"DEMO-{tin[-4:]}-{member}-{kind}",
        "billing_provider": {"npi": provider_npi, "tin": tin},
        "rendering_provider_npi": provider_npi,
        "member": {"member_id": member},
        "diagnoses": ["M25.561", "J06.9"],
        "total_charge": str(sum(Decimal(c) for _, _, c in CLAIM_KINDS[kind])),
        "lines": lines,
    }


async def _claims(session: AsyncSession, tins: frozenset[str]) -> None:
    number, lookups = 0, Lookups(session)
    for tin, provider_npi, *_ in PROVIDERS[:3]:
        if tin not in tins:
            continue
        for kind in range(len(CLAIM_KINDS)):
            for member, first_day in (
                ("M1000101", date(2026, 1, 5)),
                ("M1000201", date(2025, 2, 3)),
            ):
                number += 1
                on = first_day + timedelta(days=9 * number)
                claim = ClaimIn.model_validate(demo_claim(kind, tin, provider_npi, member, on))
                intake = Intake(session, on + timedelta(days=3), lookups)
                rejected = await intake.receive([Received(0, claim, tin)])
                assert not rejected, rejected
                await intake.write()


ALL_TINS = frozenset(p[0] for p in PROVIDERS)


async def seed_demo(
    session: AsyncSession,
    plan_name: str = "Cascade Health Plan",
    provider_tins: frozenset[str] = ALL_TINS,
) -> bool:
    """Create the demo data, with the provider records (and their claims) of the given
    TINs only; False when it was already there."""
    if await catalog.has_catalog(session):
        return False
    products = await catalog.seed_catalog(session, plan_name)
    providers = _providers(products, provider_tins)
    session.add_all(providers.values())
    session.add_all(_members(products, providers))
    for holder, level in MET:
        for kind, met in (("deductible", "350.00"), ("out_of_pocket", "410.00")):
            session.add(
                Accumulator(
                    holder=holder,
                    level=level,
                    plan_year=2026,
                    network="in_network",
                    kind=kind,
                    met=Decimal(met),
                )
            )
    await session.flush()
    await _claims(session, provider_tins)
    return True
