"""A believable plan from a seed: provider records, families with coverage, and claims
adjudicated by the rules engine, the same every time for the same seed and sizes.

Runs on top of the demo catalog (products, benefits, fee schedule). Rows go in with
bulk inserts; claims are adjudicated in memory in service-date order against
accumulators kept here, which are then stored with them.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from provider_data.data.generator_claims import (
    Book,
    Sizes,
    claims_for,
    insert_returning_ids,
    store_accumulators,
    store_claims,
)
from provider_data.documents import npi
from provider_data.domain import adjudication as engine
from provider_data.platform.models import (
    Benefit,
    CostShareLimit,
    Coverage,
    Member,
    Product,
    ProviderRecord,
)

FIRST = [
    "Ava",
    "Ben",
    "Chloe",
    "Dev",
    "Elif",
    "Farah",
    "Gus",
    "Hana",
    "Ivan",
    "June",
    "Kai",
    "Lena",
    "Milo",
    "Nia",
    "Owen",
    "Priya",
    "Quinn",
    "Rosa",
    "Sami",
    "Tess",
    "Uma",
    "Vik",
]
LAST = [
    "Abbott",
    "Baker",
    "Cruz",
    "Diaz",
    "Evans",
    "Fischer",
    "Garcia",
    "Huang",
    "Iqbal",
    "Jensen",
    "Kim",
    "Lopez",
    "Moreau",
    "Nguyen",
    "Okoro",
    "Patel",
    "Reyes",
    "Sato",
]
PLACES = ["Cedar", "Harbor", "Summit", "Valley", "Pine", "Bayview", "North", "Riverbend"]
KINDS = [
    ("Family Medicine", "207Q00000X"),
    ("Pediatrics", "208000000X"),
    ("Orthopedics", "207X00000X"),
    ("Physical Therapy", "225100000X"),
    ("Urgent Care", "261QU0200X"),
    ("Behavioral Health", "101YM0800X"),
]


def _providers(rng: random.Random, sizes: Sizes) -> list[dict[str, Any]]:
    rows = []
    for i in range(sizes.providers):
        kind, taxonomy = rng.choice(KINDS)
        start = date(2015 + rng.randrange(10), 1 + rng.randrange(12), 1)
        ended = rng.random() < 0.05
        rows.append(
            {
                "npi": npi.make(f"2{sizes.seed % 100:02d}{i:06d}"),
                "tin": f"7{sizes.seed % 100:02d}{i // 4:06d}",
                "name": f"{rng.choice(PLACES)} {kind} {i}",
                "taxonomy": taxonomy,
                "network_status": "in_network" if rng.random() < 0.9 else "out_of_network",
                "effective_from": start,
                "effective_to": start + timedelta(days=700) if ended else None,
            }
        )
    return rows


def _family(rng: random.Random, sizes: Sizes, family: int) -> list[dict[str, Any]]:
    subscriber = f"G{sizes.seed % 100:02d}{family:05d}"
    last = rng.choice(LAST)
    households = [[], ["spouse"], ["spouse", "child"], ["spouse", "child", "child"], ["child"]]
    relations = ["subscriber", *rng.choice(households)]
    people = []
    for suffix, relation in enumerate(relations, start=1):
        born = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 50))
        if relation == "child":
            born = date(2004, 1, 1) + timedelta(days=rng.randrange(365 * 20))
        people.append(
            {
                "member_id": f"{subscriber}{suffix:02d}",
                "subscriber_id": subscriber,
                "relation": relation,
                "first_name": rng.choice(FIRST),
                "last_name": last,
                "date_of_birth": born,
            }
        )
    return people


async def _book(conn: AsyncConnection) -> tuple[dict[str, int], Book]:
    products = {code: pid for pid, code in (await conn.execute(select(Product.id, Product.code)))}
    book = Book()
    for b in await conn.execute(select(Benefit.__table__)):
        book.terms[(b.product_id, b.network, b.service_type_code)] = engine.Terms(
            b.covered,
            b.copay,
            b.coinsurance_percent,
            b.deductible_applies,
            b.visit_limit,
            b.prior_auth_required,
        )
    for c in await conn.execute(select(CostShareLimit.__table__)):
        book.limits[(c.product_id, c.kind, c.level, c.network)] = c.amount
    return products, book


async def generate(db: AsyncEngine, sizes: Sizes) -> bool:
    """Add the generated plan; False when this seed's data is already there."""
    rng = random.Random(sizes.seed)  # noqa: S311 - demo data: reproducible, not secret
    prefix = f"G{sizes.seed % 100:02d}%"
    async with db.begin() as conn:
        if await conn.scalar(
            select(func.count()).select_from(Member).where(Member.member_id.like(prefix))
        ):
            return False
        products, book = await _book(conn)
        if not products:
            raise RuntimeError("run seed-demo first: the generated plan uses its catalog")
        providers = _providers(rng, sizes)
        provider_ids = await insert_returning_ids(conn, ProviderRecord, providers)
        members, coverages = _members(rng, sizes, products, provider_ids, providers)
        member_ids = await insert_returning_ids(conn, Member, members)
        for row, member in zip(coverages, member_ids, strict=True):
            row["member_id"] = member
        await insert_returning_ids(conn, Coverage, coverages)
        claims = claims_for(rng, sizes, book, members, member_ids, coverages, providers)
        await store_claims(conn, claims)
        await store_accumulators(conn, book)
    return True


def _members(
    rng: random.Random,
    sizes: Sizes,
    products: dict[str, int],
    provider_ids: list[int],
    providers: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    members: list[dict[str, Any]] = []
    coverages: list[dict[str, Any]] = []
    in_network = [
        pid
        for pid, p in zip(provider_ids, providers, strict=True)
        if p["network_status"] == "in_network" and p["effective_to"] is None
    ]
    family = 0
    while len(members) < sizes.members:
        family += 1
        product = products["CHP-PPO"] if rng.random() < 0.6 else products["CHP-HMO"]
        start = date(2024 + rng.randrange(3), 1 + 6 * rng.randrange(2), 1)
        end = date(2025, 12, 31) if start.year < 2025 and rng.random() < 0.1 else None
        for person in _family(rng, sizes, family)[: sizes.members - len(members)]:
            person["pcp_id"] = rng.choice(in_network) if in_network else None
            members.append(person)
            coverages.append(
                {"product_id": product, "effective_date": start, "termination_date": end}
            )
    return members, coverages
