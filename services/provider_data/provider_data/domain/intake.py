"""Claims received together (one, or a bulk of up to 1,000): what the plan's data says
about them is read once for all, each claim is checked and adjudicated in order, and
the accepted ones are written with a few statements.

The members involved are locked (PostgreSQL row locks, in id order; SQLite has one
writer), so their accumulators change one claim at a time; a pended claim applies
nothing until medical review finishes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from provider_data.documents.claims import ClaimIn, Edit
from provider_data.domain import adjudication as engine
from provider_data.domain import guessing
from provider_data.domain.claim_writer import Accepted, write_accepted
from provider_data.domain.edits import Context, edit, first_service_date
from provider_data.domain.lookups import Lookups
from provider_data.platform.models import (
    Accumulator,
    Claim,
    Coverage,
    Member,
    VisitUsage,
)
from provider_data.reads import plandata

Item = tuple[str, tuple[str, ...], int, Decimal]  # procedure, modifiers, units, charge
Account = tuple[str, str, int, str, str]  # holder, level, plan year, network, kind
DupKey = tuple[int, str, date, Decimal]  # member, billing TIN, service date, total charge


@dataclass(frozen=True)
class Received:
    index: int
    claim: ClaimIn
    tin: str
    edits: tuple[Edit, ...] = ()  # found before (on the claim alone): never adjudicated


def items_of(claim: ClaimIn) -> list[Item]:
    return [
        (
            line.procedure_code.upper(),
            tuple(m.upper() for m in line.modifiers),
            line.units,
            line.charge,
        )
        for line in claim.lines
    ]


async def engine_lines(items: list[Item], ctx: Context, lookups: Lookups) -> list[engine.Line]:
    """The engine's view of each line: its fee, service type and the product's terms."""
    fees = await lookups.fees(ctx.network)
    terms = await lookups.terms(ctx.coverage.product_id, ctx.network)
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


class Intake:
    def __init__(
        self,
        session: AsyncSession,
        today: date,
        lookups: Lookups | None = None,
        guard: guessing.Guard | None = None,
    ):
        self.session, self.today, self.guard = session, today, guard
        self.lookups = lookups or Lookups(session)
        self.members: dict[str, Member] = {}
        self.accounts: dict[Account, Accumulator] = {}
        self.visits: dict[tuple[int, int, str], VisitUsage] = {}
        self.existing: dict[DupKey, list[tuple[list[str], str]]] = {}
        self.accepted: list[Accepted] = []

    async def receive(self, received: list[Received]) -> dict[int, list[Edit]]:
        """Check and adjudicate each claim in order; the edits of the rejected ones."""
        await self._load_members(r.claim.member.member_id for r in received)
        checked = {r.index: await self._check(r) for r in received}
        contexts = [
            (r, ctx) for r in received if (ctx := checked[r.index][1]) is not None and not r.edits
        ]
        await self.lock(
            [ctx for _, ctx in contexts], [first_service_date(r.claim) for r, _ in contexts]
        )
        await self._load_claims_like(contexts)
        rejected = {}
        for r in received:
            edits, ctx = checked[r.index]
            duplicate = self._duplicate(r, ctx) if ctx and not r.edits else None
            if ctx is None or duplicate is not None or r.edits:
                rejected[r.index] = [*r.edits, *edits, *([duplicate] if duplicate else [])]
                continue
            lines = await engine_lines(items_of(r.claim), ctx, self.lookups)
            on = first_service_date(r.claim)
            result = await self.settle(ctx, lines, on, bool(r.claim.prior_authorization))
            self.accepted.append(Accepted(r.index, r.claim, ctx, lines, result))
            key = (ctx.member.id, ctx.provider.tin, on, r.claim.total_charge)
            self.existing.setdefault(key, []).append(
                (sorted(code for code, *_ in items_of(r.claim)), f"#{r.index} of this request")
            )
        return rejected

    async def _load_members(self, raw_ids: Iterable[str]) -> None:
        wanted = sorted({plandata.normalize_member_id(m) for m in raw_ids} - set(self.members))
        if not wanted:
            return
        found = await self.session.scalars(
            select(Member)
            .options(selectinload(Member.coverages).selectinload(Coverage.product))
            .where(Member.member_id.in_(wanted))
        )
        self.members.update({m.member_id: m for m in found})

    async def _check(self, r: Received) -> tuple[list[Edit], Context | None]:
        """The checks against the plan's data: provider record, member, coverage."""
        claim, on = r.claim, first_service_date(r.claim)
        last = max(line.service_date for line in claim.lines)
        provider = await self.lookups.provider(claim.billing_provider.npi, r.tin)
        found: list[Edit] = []
        if provider is None or not plandata.in_effect(
            provider.effective_from, provider.effective_to, on
        ):
            found.append(
                edit(
                    "billing_provider_not_on_record",
                    "billing_provider",
                    value=claim.billing_provider.npi,
                    detail=on,
                )
            )
        shown = plandata.normalize_member_id(claim.member.member_id)
        member = self.members.get(shown)
        if member is None:
            return [*found, edit("member_not_found", "member.member_id", value=shown)], None
        born = claim.member.date_of_birth
        if born is not None and self.guard is not None:
            if wait := await self.guard.wait(member):
                locked = edit("too_many_failed_matches", "member", value=shown, detail=wait)
                return [*found, locked], None
            if born != member.date_of_birth:
                await self.guard.failed(member)
        if born is not None and born != member.date_of_birth:
            found.append(edit("date_of_birth_mismatch", "member.date_of_birth", value=shown))
        coverage = plandata.coverage_on(member, on)
        if coverage is None or plandata.coverage_on(member, last) is not coverage:
            found.append(edit("coverage_not_active", "lines", value=shown, detail=on))
        if found or provider is None or coverage is None:
            return found, None
        network = await self.lookups.network(provider, coverage.product_id)
        return [], Context(member, coverage, provider, network)

    async def lock(self, contexts: list[Context], dates: list[date]) -> None:
        """Lock the members, create their missing accumulators at zero, read them all."""
        if not contexts:
            return
        ids = sorted({ctx.member.id for ctx in contexts})
        await self.session.execute(
            select(Member.id).where(Member.id.in_(ids)).order_by(Member.id).with_for_update()
        )
        keys = {
            (
                ctx.member.member_id if level == "individual" else ctx.member.subscriber_id,
                level,
                on.year,
                ctx.network,
                kind,
            )
            for ctx, on in zip(contexts, dates, strict=True)
            for level in ("individual", "family")
            for kind in ("deductible", "out_of_pocket")
        }
        rows = [
            dict(zip(("holder", "level", "plan_year", "network", "kind"), k, strict=True))
            for k in sorted(keys)
        ]
        dialect = self.session.get_bind().dialect.name
        upsert = pg_insert if dialect == "postgresql" else sqlite_insert
        await self.session.execute(
            upsert(Accumulator).on_conflict_do_nothing(),
            [{**row, "met": engine.ZERO} for row in rows],
        )
        years = sorted({on.year for on in dates})
        found = await self.session.scalars(
            select(Accumulator)
            .where(
                Accumulator.holder.in_(sorted({k[0] for k in keys})),
                Accumulator.plan_year.in_(years),
            )
            .order_by(Accumulator.id)
            .with_for_update()
        )
        self.accounts.update(
            {(a.holder, a.level, a.plan_year, a.network, a.kind): a for a in found}
        )
        visits = await self.session.scalars(
            select(VisitUsage)
            .where(VisitUsage.member_id.in_(ids), VisitUsage.plan_year.in_(years))
            .with_for_update()
        )
        self.visits.update({(v.member_id, v.plan_year, v.service_type_code): v for v in visits})

    async def _load_claims_like(self, contexts: list[tuple[Received, Context]]) -> None:
        """Claims already on file that a received one could duplicate."""
        if not contexts:
            return
        dates = [first_service_date(r.claim) for r, _ in contexts]
        existing = await self.session.scalars(
            select(Claim)
            .options(selectinload(Claim.lines))
            .where(
                Claim.member_id.in_(sorted({ctx.member.id for _, ctx in contexts})),
                Claim.service_date.between(min(dates), max(dates)),
                Claim.status != "denied",
            )
        )
        for claim in existing:
            key = (claim.member_id, claim.billing_tin, claim.service_date, claim.billed_amount)
            codes = sorted(line.procedure_code for line in claim.lines)
            self.existing.setdefault(key, []).append((codes, claim.claim_number))

    def _duplicate(self, r: Received, ctx: Context) -> Edit | None:
        key = (ctx.member.id, ctx.provider.tin, first_service_date(r.claim), r.claim.total_charge)
        wanted = sorted(code for code, *_ in items_of(r.claim))
        for codes, number in self.existing.get(key, []):
            if codes == wanted:
                return edit("duplicate_claim", None, value=number)
        return None

    def _buckets(
        self, ctx: Context, year: int, limits: dict[tuple[str, str], Decimal]
    ) -> dict[tuple[str, str], engine.Bucket]:
        member = ctx.member
        return {
            (kind, level): engine.Bucket(
                limits.get((kind, level)),
                self.accounts[
                    (
                        member.member_id if level == "individual" else member.subscriber_id,
                        level,
                        year,
                        ctx.network,
                        kind,
                    )
                ].met,
            )
            for kind in ("deductible", "out_of_pocket")
            for level in ("individual", "family")
        }

    async def settle(
        self,
        ctx: Context,
        lines: list[engine.Line],
        on: date,
        has_authorization: bool,
        *,
        reviewed: bool = False,
    ) -> engine.ClaimResult:
        """Adjudicate against the locked accumulators; they change unless it pends."""
        limits = await self.lookups.limits(ctx.coverage.product_id, ctx.network)
        buckets = self._buckets(ctx, on.year, limits)
        used = {
            stc: v.used
            for (m, y, stc), v in self.visits.items()
            if (m, y) == (ctx.member.id, on.year)
        }
        acc = engine.Accumulators(
            buckets[("deductible", "individual")],
            buckets[("deductible", "family")],
            buckets[("out_of_pocket", "individual")],
            buckets[("out_of_pocket", "family")],
            used,
        )
        result = engine.adjudicate(lines, has_authorization, acc, reviewed=reviewed)
        if result.status != "pended":
            self._save(ctx, on.year, buckets, acc.visits)
        return result

    def _save(
        self,
        ctx: Context,
        year: int,
        buckets: dict[tuple[str, str], engine.Bucket],
        visits: dict[str, int],
    ) -> None:
        member = ctx.member
        for (kind, level), bucket in buckets.items():
            holder = member.member_id if level == "individual" else member.subscriber_id
            self.accounts[(holder, level, year, ctx.network, kind)].met = bucket.met
        for stc, count in visits.items():
            row = self.visits.get((member.id, year, stc))
            if row is None:
                row = VisitUsage(member_id=member.id, plan_year=year, service_type_code=stc)
                self.session.add(row)
                self.visits[(member.id, year, stc)] = row
            row.used = count

    async def write(self) -> dict[int, Claim]:
        """Store the accepted claims (lines, adjustments, history); them by index."""
        return await write_accepted(self.session, self.today, self.accepted)
