"""Storing a claim that passed the front-end edits: adjudicated at once by the rules
engine against the member's accumulators, which then change, in one transaction."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from provider_data import adjudication as engine
from provider_data.claim_schemas import ClaimIn
from provider_data.edits import Context, first_service_date
from provider_data.models import (
    Accumulator,
    Benefit,
    Claim,
    ClaimAdjustment,
    ClaimLine,
    ClaimStatusEvent,
    CostShareLimit,
    FeeSchedule,
    Member,
    VisitUsage,
)


def claim_number(claim: Claim) -> str:
    return f"C-{claim.received_date.year}-{claim.id:08d}"


async def _terms(session: AsyncSession, product_id: int, network: str) -> dict[str, engine.Terms]:
    rows = await session.scalars(
        select(Benefit).where(Benefit.product_id == product_id, Benefit.network == network)
    )
    return {
        b.service_type_code: engine.Terms(
            covered=b.covered,
            copay=b.copay,
            coinsurance_percent=b.coinsurance_percent,
            deductible_applies=b.deductible_applies,
            visit_limit=b.visit_limit,
            prior_auth_required=b.prior_auth_required,
        )
        for b in rows
    }


Item = tuple[str, tuple[str, ...], int, Decimal]  # procedure, modifiers, units, charge


async def engine_lines(session: AsyncSession, items: list[Item], ctx: Context) -> list[engine.Line]:
    """The engine's view of each line: its fee, service type and the product's terms."""
    codes = sorted({code for code, *_ in items})
    fees = {
        f.procedure_code: f
        for f in await session.scalars(
            select(FeeSchedule).where(
                FeeSchedule.procedure_code.in_(codes), FeeSchedule.network == ctx.network
            )
        )
    }
    terms = await _terms(session, ctx.coverage.product_id, ctx.network)
    lines = []
    for code, modifiers, units, charge in items:
        fee = fees.get(code)
        stc = fee.service_type_code if fee else None
        lines.append(
            engine.Line(
                procedure_code=code,
                charge=charge,
                units=units,
                modifiers=modifiers,
                fee_per_unit=fee.allowed_per_unit if fee else None,
                service_type_code=stc,
                terms=(terms.get(stc) or terms.get("30")) if stc else None,
            )
        )
    return lines


def _items(claim: ClaimIn) -> list[Item]:
    return [
        (
            line.procedure_code.upper(),
            tuple(m.upper() for m in line.modifiers),
            line.units,
            line.charge,
        )
        for line in claim.lines
    ]


class Ledger:
    """The member's accumulator rows for one plan year and network, loaded for update."""

    def __init__(self, session: AsyncSession, ctx: Context, year: int) -> None:
        self.session, self.ctx, self.year = session, ctx, year
        self.rows: dict[tuple[str, str], Accumulator] = {}
        self.visit_rows: dict[str, VisitUsage] = {}

    async def load(self) -> engine.Accumulators:
        # One claim of a member at a time (PostgreSQL row lock; SQLite has one writer).
        await self.session.execute(
            select(Member.id).where(Member.id == self.ctx.member.id).with_for_update()
        )
        limits = {
            (c.kind, c.level): c.amount
            for c in await self.session.scalars(
                select(CostShareLimit).where(
                    CostShareLimit.product_id == self.ctx.coverage.product_id,
                    CostShareLimit.network == self.ctx.network,
                )
            )
        }
        buckets = {}
        for kind in ("deductible", "out_of_pocket"):
            for level in ("individual", "family"):
                row = await self._row(kind, level)
                buckets[(kind, level)] = engine.Bucket(limits.get((kind, level)), row.met)
        visits = await self.session.scalars(
            select(VisitUsage)
            .where(VisitUsage.member_id == self.ctx.member.id, VisitUsage.plan_year == self.year)
            .with_for_update()
        )
        self.visit_rows = {v.service_type_code: v for v in visits}
        return engine.Accumulators(
            buckets[("deductible", "individual")],
            buckets[("deductible", "family")],
            buckets[("out_of_pocket", "individual")],
            buckets[("out_of_pocket", "family")],
            {code: row.used for code, row in self.visit_rows.items()},
        )

    async def _row(self, kind: str, level: str) -> Accumulator:
        """The accumulator row, created at zero if missing (concurrent creators agree),
        then locked until the claim's transaction ends."""
        member = self.ctx.member
        holder = member.member_id if level == "individual" else member.subscriber_id
        key = dict(holder=holder, level=level, plan_year=self.year, network=self.ctx.network)
        dialect = self.session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        await self.session.execute(
            insert(Accumulator).values(kind=kind, met=engine.ZERO, **key).on_conflict_do_nothing()
        )
        row = await self.session.scalar(
            select(Accumulator).filter_by(kind=kind, **key).with_for_update()
        )
        assert row is not None
        self.rows[(kind, level)] = row
        return row

    def save(self, acc: engine.Accumulators) -> None:
        self.rows[("deductible", "individual")].met = acc.deductible_individual.met
        self.rows[("deductible", "family")].met = acc.deductible_family.met
        self.rows[("out_of_pocket", "individual")].met = acc.oop_individual.met
        self.rows[("out_of_pocket", "family")].met = acc.oop_family.met
        for code, used in acc.visits.items():
            row = self.visit_rows.get(code)
            if row is None:
                row = VisitUsage(
                    member_id=self.ctx.member.id, plan_year=self.year, service_type_code=code
                )
                self.session.add(row)
            row.used = used


async def store(session: AsyncSession, claim: ClaimIn, ctx: Context, today: date) -> Claim:
    """Receive, adjudicate and store the claim; the accumulators change with it."""
    on = first_service_date(claim)
    ledger = Ledger(session, ctx, on.year)
    acc = await ledger.load()
    lines = await engine_lines(session, _items(claim), ctx)
    result = engine.adjudicate(lines, bool(claim.prior_authorization), acc)
    if result.status != "pended":
        ledger.save(acc)
    row = _claim_row(claim, ctx, today, on, result)
    row.lines = [
        _line_row(number, claim, line, outcome)
        for number, (line, outcome) in enumerate(zip(lines, result.lines, strict=True), start=1)
    ]
    row.history = [
        ClaimStatusEvent(status="received", on=today, note="received electronically"),
        ClaimStatusEvent(status=result.status, on=today, note=result.note),
    ]
    session.add(row)
    await session.flush()
    row.claim_number = claim_number(row)
    await session.flush()
    return row


def _claim_row(
    claim: ClaimIn, ctx: Context, today: date, on: date, result: engine.ClaimResult
) -> Claim:
    finished = result.status != "pended"
    return Claim(
        claim_number=f"T-{uuid.uuid4().hex[:20]}",
        member=ctx.member,
        billing_tin=ctx.provider.tin,
        billing_npi=claim.billing_provider.npi,
        rendering_npi=claim.rendering_provider_npi,
        patient_control_number=claim.patient_control_number,
        diagnoses=",".join(code.upper() for code in claim.diagnoses),
        place_of_service=claim.place_of_service,
        prior_authorization=claim.prior_authorization,
        network=ctx.network,
        service_date=on,
        received_date=today,
        adjudicated_date=today if finished else None,
        status=result.status,
        billed_amount=claim.total_charge,
        allowed_amount=result.total("allowed"),
        paid_amount=result.total("paid"),
        patient_responsibility=result.total("patient_responsibility"),
        denial_reason=None if result.status in ("paid", "pended") else result.note,
    )


def _line_row(
    number: int, claim: ClaimIn, line: engine.Line, outcome: engine.LineResult
) -> ClaimLine:
    source = claim.lines[number - 1]
    return ClaimLine(
        line_number=number,
        procedure_code=line.procedure_code,
        modifiers=",".join(line.modifiers),
        units=line.units,
        charge=line.charge,
        service_date=source.service_date,
        service_type_code=line.service_type_code,
        status=outcome.status,
        allowed=outcome.allowed,
        deductible=outcome.deductible,
        copay=outcome.copay,
        coinsurance=outcome.coinsurance,
        paid=outcome.paid,
        remarks=",".join(outcome.remarks),
        adjustments=[
            ClaimAdjustment(group_code=group, reason_code=code, amount=amount)
            for group, code, amount in outcome.adjustments
        ],
    )
