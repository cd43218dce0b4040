"""The generated plan's claims: drawn from a seed, adjudicated in memory by the rules
engine in service-date order against running accumulators, stored with bulk inserts."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from provider_data.data.catalog import FEES, OUT_OF_NETWORK_FACTOR
from provider_data.domain import adjudication as engine
from provider_data.platform.models import (
    Accumulator,
    Claim,
    ClaimAdjustment,
    ClaimLine,
    ClaimStatusEvent,
)

AS_OF = date(2026, 10, 31)  # the last service date generated: fixed, so output never drifts
PROCEDURES = list(FEES)
WEIGHTS = [6, 30, 14, 3, 6, 8, 6, 4, 10, 8, 2]


async def insert_returning_ids(
    conn: AsyncConnection, model: Any, rows: list[dict[str, Any]]
) -> list[int]:
    if not rows:
        return []
    table = model.__table__
    result = await conn.execute(
        insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
    )
    return [row.id for row in result]


@dataclass(frozen=True)
class Sizes:
    members: int
    providers: int
    claims: int
    seed: int = 2026


@dataclass
class Book:
    """What the claims need: products' terms and limits, fees, and running accumulators."""

    terms: dict[tuple[int, str, str], engine.Terms] = field(default_factory=dict)
    limits: dict[tuple[int, str, str, str], Decimal] = field(default_factory=dict)
    buckets: dict[tuple[str, str, int, str, str], engine.Bucket] = field(default_factory=dict)
    visits: dict[tuple[int, int], dict[str, int]] = field(default_factory=dict)

    def bucket(
        self, product: int, holder: str, level: str, year: int, network: str, kind: str
    ) -> engine.Bucket:
        key = (holder, level, year, network, kind)
        if key not in self.buckets:
            self.buckets[key] = engine.Bucket(self.limits.get((product, kind, level, network)))
        return self.buckets[key]


@dataclass
class Spec:
    member: int
    provider: int
    on: date


def _specs(
    rng: random.Random,
    sizes: Sizes,
    coverages: list[dict[str, Any]],
    providers: list[dict[str, Any]],
) -> list[Spec]:
    specs = []
    for _ in range(sizes.claims):
        member = rng.randrange(len(coverages))
        coverage = coverages[member]
        first = max(coverage["effective_date"], date(2025, 1, 1))
        last = min(coverage["termination_date"] or AS_OF, AS_OF)
        if last < first:
            continue
        on = first + timedelta(days=rng.randrange((last - first).days + 1))
        for _try in range(3):
            provider = rng.randrange(len(providers))
            p = providers[provider]
            if p["effective_from"] <= on and (p["effective_to"] is None or p["effective_to"] >= on):
                specs.append(Spec(member, provider, on))
                break
    specs.sort(key=lambda s: s.on)
    return specs


def _lines(rng: random.Random, book: Book, product: int, network: str) -> list[engine.Line]:
    lines = []
    for code in rng.choices(PROCEDURES, WEIGHTS, k=rng.choice([1, 1, 1, 2, 2, 3])):
        stc, _, fee = FEES[code]
        fee = (
            fee if network == "in_network" else (fee * OUT_OF_NETWORK_FACTOR).quantize(engine.CENT)
        )
        units = rng.randint(1, 4) if code == "97110" else 1
        factor = Decimal(rng.choice(["1.25", "1.5", "1.8", "2.1"]))
        modifiers = ("22",) if rng.random() < 0.01 else ()
        terms = book.terms.get((product, network, stc)) or book.terms.get((product, network, "30"))
        lines.append(
            engine.Line(code, engine.cents(fee * units * factor), units, modifiers, fee, stc, terms)
        )
    return lines


def _accounts(
    book: Book, product: int, member: dict[str, Any], spec: Spec, network: str
) -> engine.Accumulators:
    year, bucket = spec.on.year, book.bucket
    return engine.Accumulators(
        bucket(product, member["member_id"], "individual", year, network, "deductible"),
        bucket(product, member["subscriber_id"], "family", year, network, "deductible"),
        bucket(product, member["member_id"], "individual", year, network, "out_of_pocket"),
        bucket(product, member["subscriber_id"], "family", year, network, "out_of_pocket"),
        book.visits.setdefault((spec.member, year), {}),
    )


def claims_for(
    rng: random.Random,
    sizes: Sizes,
    book: Book,
    members: list[dict[str, Any]],
    member_ids: list[int],
    coverages: list[dict[str, Any]],
    providers: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    claims = []
    for number, spec in enumerate(_specs(rng, sizes, coverages, providers), start=1):
        member, provider = members[spec.member], providers[spec.provider]
        product, network = coverages[spec.member]["product_id"], provider["network_status"]
        acc = _accounts(book, product, member, spec, network)
        lines = _lines(rng, book, product, network)
        authorized = rng.random() < 0.8
        result = engine.adjudicate(lines, authorized, acc)
        received = spec.on + timedelta(days=rng.randint(2, 20))
        claims.append(
            {
                "row": {
                    "claim_number": f"G{sizes.seed % 100:02d}-{number:07d}",
                    "member_id": member_ids[spec.member],
                    "billing_tin": provider["tin"],
                    "billing_npi": provider["npi"],
                    "rendering_npi": provider["npi"],
                    "patient_control_number": f"GEN-{number:07d}",
                    "diagnoses": rng.choice(["J06.9", "M25.561", "E11.9,I10", "Z00.00", "F41.1"]),
                    "place_of_service": "11",
                    "prior_authorization": "AUTH" if authorized else None,
                    "network": network,
                    "service_date": spec.on,
                    "received_date": received,
                    "adjudicated_date": None if result.status == "pended" else received,
                    "status": result.status,
                    "billed_amount": sum((line.charge for line in lines), engine.ZERO),
                    "allowed_amount": result.total("allowed"),
                    "paid_amount": result.total("paid"),
                    "patient_responsibility": result.total("patient_responsibility"),
                    "denial_reason": None if result.status in ("paid", "pended") else result.note,
                },
                "lines": list(zip(lines, result.lines, strict=True)),
                "note": result.note,
            }
        )
    return claims


def _line_row(
    claim_id: int, number: int, line: engine.Line, outcome: engine.LineResult, on: date
) -> dict[str, Any]:
    return {
        "claim_id": claim_id,
        "line_number": number,
        "procedure_code": line.procedure_code,
        "modifiers": ",".join(line.modifiers),
        "units": line.units,
        "charge": line.charge,
        "service_date": on,
        "service_type_code": line.service_type_code,
        "status": outcome.status,
        "allowed": outcome.allowed,
        "deductible": outcome.deductible,
        "copay": outcome.copay,
        "coinsurance": outcome.coinsurance,
        "paid": outcome.paid,
        "remarks": ",".join(outcome.remarks),
    }


async def store_claims(conn: AsyncConnection, claims: list[dict[str, Any]]) -> None:
    for start in range(0, len(claims), 2000):
        batch = claims[start : start + 2000]
        ids = await insert_returning_ids(conn, Claim, [c["row"] for c in batch])
        lines, outcomes, events = [], [], []
        for claim_id, claim in zip(ids, batch, strict=True):
            row = claim["row"]
            for number, (line, outcome) in enumerate(claim["lines"], start=1):
                lines.append(_line_row(claim_id, number, line, outcome, row["service_date"]))
                outcomes.append(outcome)
            events.append(
                {
                    "claim_id": claim_id,
                    "status": "received",
                    "on": row["received_date"],
                    "note": "received electronically",
                }
            )
            events.append(
                {
                    "claim_id": claim_id,
                    "status": row["status"],
                    "on": row["received_date"],
                    "note": claim["note"],
                }
            )
        line_ids = await insert_returning_ids(conn, ClaimLine, lines)
        adjustments = [
            {"line_id": line_id, "group_code": group, "reason_code": code, "amount": amount}
            for line_id, outcome in zip(line_ids, outcomes, strict=True)
            for group, code, amount in outcome.adjustments
        ]
        await conn.execute(insert(ClaimAdjustment), adjustments)
        await conn.execute(insert(ClaimStatusEvent), events)


async def store_accumulators(conn: AsyncConnection, book: Book) -> None:
    rows = [
        {
            "holder": holder,
            "level": level,
            "plan_year": year,
            "network": network,
            "kind": kind,
            "met": bucket.met,
        }
        for (holder, level, year, network, kind), bucket in sorted(book.buckets.items())
        if bucket.met
    ]
    if rows:
        await conn.execute(insert(Accumulator), rows)
