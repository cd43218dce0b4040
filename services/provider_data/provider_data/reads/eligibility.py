"""The hot read paths' queries, in SQLAlchemy Core: joined rows, just the columns an
answer needs, no ORM objects.

The provider records a token's TINs match (`providers_in_effect`, one query with their
locations), and the shapes an eligibility inquiry's one statement
(`provider_data.reads.inquiry`) is read into. Products, benefits and limits come
from `provider_data.reads.reference`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import Date, Executable, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from provider_data.platform.models import ProviderLocation, ProviderRecord


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


@dataclass
class YearAmounts:
    """What a member has met toward limits (by kind, level, network) and visits used by
    service type, in one plan year."""

    met: dict[tuple[str, str, str], Decimal] = field(default_factory=dict)
    visits: dict[str, int] = field(default_factory=dict)
