"""The hot read paths' queries, in SQLAlchemy Core: joined rows, just the columns an
answer needs, no ORM objects.

An eligibility inquiry reads the provider records its token's TINs match (one
query, with their locations), the member with every coverage, the PCP, the matched
provider's network for each coverage's product and the failed-match counters that
may refuse the answer (one query), and, for an active coverage, the amounts met in
the plan year (one query: accumulators and visits). Products, benefits and limits
come from `provider_data.reference`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import (
    Date,
    Executable,
    Integer,
    Numeric,
    String,
    and_,
    bindparam,
    cast,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from provider_data.models import (
    Accumulator,
    Coverage,
    FailedMatchCounter,
    Member,
    ProviderLocation,
    ProviderNetwork,
    ProviderRecord,
    VisitUsage,
)


@dataclass(frozen=True)
class Location:
    address_line: str
    city: str
    state: str
    postal_code: str


@dataclass
class Provider:
    """A provider record in effect, as the TIN decision and the answers need it."""

    id: int
    npi: str
    tin: str
    name: str
    taxonomy: str | None
    network_status: str
    effective_from: date
    effective_to: date | None
    locations: list[Location] = field(default_factory=list)


def _providers() -> Executable:
    p, loc = ProviderRecord, ProviderLocation
    on = bindparam("on", type_=Date())
    return (
        select(
            p.id,
            p.npi,
            p.tin,
            p.name,
            p.taxonomy,
            p.network_status,
            p.effective_from,
            p.effective_to,
            loc.address_line,
            loc.city,
            loc.state,
            loc.postal_code,
        )
        .outerjoin(loc, loc.provider_id == p.id)
        .where(p.tin.in_(bindparam("tins", expanding=True)), p.effective_from <= on)
        .where(or_(p.effective_to.is_(None), p.effective_to >= on))
        .order_by(p.tin, p.npi, loc.id)
    )


# Built once: a request only binds its values (no statement building or cache keys).
_PROVIDERS = _providers()


async def providers_in_effect(
    session: AsyncSession, tax_ids: Iterable[str], on: date
) -> list[Provider]:
    """The plan's provider records under these TINs in effect on a date, with their
    locations, ordered by TIN and NPI: one query."""
    wanted = sorted(set(tax_ids))
    if not wanted:
        return []
    found: dict[int, Provider] = {}
    rows = await session.execute(_PROVIDERS, {"tins": wanted, "on": on})
    for pid, npi, tin, name, taxonomy, status, since, until, *place in rows:
        provider = found.get(pid)
        if provider is None:
            provider = found[pid] = Provider(pid, npi, tin, name, taxonomy, status, since, until)
        if place[0] is not None:
            provider.locations.append(Location(*place))
    return list(found.values())


class Window(NamedTuple):
    """A failed-match counter as read (not locked): when its window began, failures in it."""

    started_at: datetime
    failures: int


@dataclass(frozen=True)
class CoverageRow:
    product_id: int
    effective_date: date
    termination_date: date | None
    network: str | None  # the matched provider's status for this product, if set


@dataclass
class MemberView:
    id: int
    member_id: str
    subscriber_id: str
    relation: str
    first_name: str
    last_name: str
    date_of_birth: date
    pcp_npi: str | None
    pcp_name: str | None
    member_window: Window | None
    client_window: Window | None
    coverages: list[CoverageRow] = field(default_factory=list)


def _member() -> Executable:
    m, cov, net = Member, Coverage, ProviderNetwork
    pcp = aliased(ProviderRecord)
    client_key = bindparam("client_key", type_=String())
    provider_id = bindparam("provider_id", type_=Integer())
    mine, client = aliased(FailedMatchCounter), aliased(FailedMatchCounter)
    return (
        select(
            m.id,
            m.member_id,
            m.subscriber_id,
            m.relation,
            m.first_name,
            m.last_name,
            m.date_of_birth,
            pcp.npi,
            pcp.name,
            mine.window_started_at,
            mine.failures,
            client.window_started_at,
            client.failures,
            cov.product_id,
            cov.effective_date,
            cov.termination_date,
            net.status,
        )
        .outerjoin(pcp, pcp.id == m.pcp_id)
        .outerjoin(mine, and_(mine.scope == "member", mine.key == m.member_id))
        .outerjoin(client, and_(client.scope == "client", client.key == client_key))
        .outerjoin(cov, cov.member_id == m.id)
        .outerjoin(net, and_(net.provider_id == provider_id, net.product_id == cov.product_id))
        .where(m.member_id == bindparam("member_id", type_=String()))
        .order_by(cov.effective_date, cov.id)
    )


_MEMBER = _member()


async def member_view(
    session: AsyncSession, member_id: str, provider_id: int, client_key: str
) -> MemberView | None:
    """The member with coverages (by effective date), PCP, the provider's network per
    product and the member's and client's failed-match counters: one query."""
    view: MemberView | None = None
    values = {"member_id": member_id, "provider_id": provider_id, "client_key": client_key}
    for row in await session.execute(_MEMBER, values):
        if view is None:
            key, shown, subscriber, relation, first, last, born, pcp_npi, pcp_name = row[:9]
            view = MemberView(
                key,
                shown,
                subscriber,
                relation,
                first,
                last,
                born,
                pcp_npi,
                pcp_name,
                member_window=Window(row[9], row[10]) if row[9] is not None else None,
                client_window=Window(row[11], row[12]) if row[11] is not None else None,
            )
        if row[13] is not None:
            view.coverages.append(CoverageRow(row[13], row[14], row[15], row[16]))
    return view


@dataclass
class YearAmounts:
    """What a member has met toward limits (by kind, level, network) and visits used by
    service type, in one plan year."""

    met: dict[tuple[str, str, str], Decimal] = field(default_factory=dict)
    visits: dict[str, int] = field(default_factory=dict)


def _amounts() -> Executable:
    text, money, number = String(), Numeric(12, 2), Integer()
    acc, visits = Accumulator, VisitUsage
    met = select(
        literal("a", text).label("tag"),
        acc.holder,
        acc.level,
        acc.network,
        acc.kind,
        acc.met,
        cast(null(), number),
    ).where(
        acc.holder.in_([bindparam("member_id"), bindparam("subscriber_id")]),
        acc.plan_year == bindparam("year"),
    )
    used = select(
        literal("v", text),
        cast(null(), text),
        cast(null(), text),
        cast(null(), text),
        visits.service_type_code,
        cast(null(), money),
        visits.used,
    ).where(visits.member_id == bindparam("member_pk"), visits.plan_year == bindparam("year"))
    return union_all(met, used)


_AMOUNTS = _amounts()


async def year_amounts(session: AsyncSession, member: MemberView, year: int) -> YearAmounts:
    """Individual amounts (held by the member) and family ones (held by the subscriber),
    and visits used: one query."""
    amounts = YearAmounts()
    values = {
        "member_id": member.member_id,
        "subscriber_id": member.subscriber_id,
        "member_pk": member.id,
        "year": year,
    }
    for tag, holder, level, network, kind, amount, count in await session.execute(_AMOUNTS, values):
        if tag == "v":
            amounts.visits[kind] = count
        elif (level == "individual") == (holder == member.member_id):
            amounts.met[(kind, level, network)] = amount
    return amounts
