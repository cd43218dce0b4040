"""What one eligibility inquiry reads, in one statement (one round trip).

The provider records the token's TINs match on the date of service, with their
locations; the member asked about with every coverage, the PCP and the failed-match
counters that may refuse the answer; those records' network status for the member's
products; and the amounts met and visits used in the plan year. The statement is a
UNION ALL whose branches each fill their own columns (the others are typed NULLs),
told apart by `tag`; it is built once, so a request only binds its values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Executable,
    Integer,
    Numeric,
    RowMapping,
    Select,
    String,
    and_,
    bindparam,
    cast,
    literal_column,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.types import TypeEngine

from provider_data.platform.models import (
    Accumulator,
    Coverage,
    FailedMatchCounter,
    Member,
    ProviderLocation,
    ProviderNetwork,
    ProviderRecord,
    VisitUsage,
)
from provider_data.reads.eligibility import (
    CoverageRow,
    Location,
    MemberView,
    Provider,
    Window,
    YearAmounts,
)

_COLUMNS: dict[str, TypeEngine[Any]] = {
    "tag": String(),
    # p: a provider record in effect under the token's TINs, one row per location
    **dict.fromkeys(("p_npi", "p_tin", "p_name", "p_taxonomy", "p_status"), String()),
    "p_id": Integer(),
    "p_from": Date(),
    "p_to": Date(),
    "loc_id": Integer(),
    **dict.fromkeys(("loc_address", "loc_city", "loc_state", "loc_postal"), String()),
    # m: the member, one row per coverage, with the PCP and the failed-match counters
    "m_id": Integer(),
    **dict.fromkeys(("m_member_id", "m_subscriber", "m_relation", "m_first", "m_last"), String()),
    "m_born": Date(),
    "pcp_npi": String(),
    "pcp_name": String(),
    "mine_started": FailedMatchCounter.window_started_at.type,
    "mine_failures": Integer(),
    "client_started": FailedMatchCounter.window_started_at.type,
    "client_failures": Integer(),
    "cov_id": Integer(),
    "cov_product": Integer(),
    "cov_from": Date(),
    "cov_to": Date(),
    # n: the network status of a provider record in effect for a product the member has
    "net_provider": Integer(),
    "net_status": String(),
    # a: amounts met this plan year (the member's own and the family's); v: visits used
    **dict.fromkeys(("a_holder", "a_level", "a_network", "a_kind"), String()),
    "a_met": Numeric(12, 2),
    "v_used": Integer(),
}
_ORDER = ("tag", "p_tin", "p_npi", "p_id", "loc_id", "cov_from", "cov_id")


def _row(tag: str, **given: Any) -> list[ColumnElement[Any]]:
    """A branch's select list: `tag`, then every column, NULL (typed) unless given."""
    assert set(given) <= set(_COLUMNS), set(given) - set(_COLUMNS)
    values: dict[str, Any] = {"tag": literal_column(f"'{tag}'", String()), **given}
    return [
        (values[name] if name in values else cast(null(), kind)).label(name)
        for name, kind in _COLUMNS.items()
    ]


def _in_effect(p: Any) -> ColumnElement[bool]:
    on = bindparam("on", type_=Date())
    return and_(
        p.tin.in_(bindparam("tins", expanding=True)),
        p.effective_from <= on,
        or_(p.effective_to.is_(None), p.effective_to >= on),
    )


def _provider_rows() -> Select[Any]:
    p, loc = ProviderRecord, ProviderLocation
    return (
        select(
            *_row(
                "p",
                p_id=p.id,
                p_npi=p.npi,
                p_tin=p.tin,
                p_name=p.name,
                p_taxonomy=p.taxonomy,
                p_status=p.network_status,
                p_from=p.effective_from,
                p_to=p.effective_to,
                loc_id=loc.id,
                loc_address=loc.address_line,
                loc_city=loc.city,
                loc_state=loc.state,
                loc_postal=loc.postal_code,
            )
        )
        .outerjoin(loc, loc.provider_id == p.id)
        .where(_in_effect(p))
    )


def _member_rows() -> Select[Any]:
    m, cov = Member, Coverage
    pcp = aliased(ProviderRecord)
    mine, client = aliased(FailedMatchCounter), aliased(FailedMatchCounter)
    return (
        select(
            *_row(
                "m",
                m_id=m.id,
                m_member_id=m.member_id,
                m_subscriber=m.subscriber_id,
                m_relation=m.relation,
                m_first=m.first_name,
                m_last=m.last_name,
                m_born=m.date_of_birth,
                pcp_npi=pcp.npi,
                pcp_name=pcp.name,
                mine_started=mine.window_started_at,
                mine_failures=mine.failures,
                client_started=client.window_started_at,
                client_failures=client.failures,
                cov_id=cov.id,
                cov_product=cov.product_id,
                cov_from=cov.effective_date,
                cov_to=cov.termination_date,
            )
        )
        .select_from(m)
        .outerjoin(pcp, pcp.id == m.pcp_id)
        .outerjoin(mine, and_(mine.scope == "member", mine.key == m.member_id))
        .outerjoin(
            client,
            and_(client.scope == "client", client.key == bindparam("client_key", type_=String())),
        )
        .outerjoin(cov, cov.member_id == m.id)
        .where(m.member_id == bindparam("member_id", type_=String()))
    )


def _network_rows() -> Select[Any]:
    p, net, cov, m = ProviderRecord, ProviderNetwork, Coverage, Member
    return (
        select(
            *_row(
                "n", net_provider=net.provider_id, cov_product=net.product_id, net_status=net.status
            )
        )
        .join(p, p.id == net.provider_id)
        .join(cov, cov.product_id == net.product_id)
        .join(m, m.id == cov.member_id)
        .where(m.member_id == bindparam("member_id"), _in_effect(p))
    )


def _amount_rows() -> list[Select[Any]]:
    acc, visits, m = Accumulator, VisitUsage, Member
    member = bindparam("member_id", type_=String())
    subscriber = select(m.subscriber_id).where(m.member_id == member).scalar_subquery()
    year = bindparam("year", type_=Integer())
    met = select(
        *_row(
            "a",
            a_holder=acc.holder,
            a_level=acc.level,
            a_network=acc.network,
            a_kind=acc.kind,
            a_met=acc.met,
        )
    ).where(acc.holder.in_([member, subscriber]), acc.plan_year == year)
    used = (
        select(*_row("v", a_kind=visits.service_type_code, v_used=visits.used))
        .join(m, m.id == visits.member_id)
        .where(m.member_id == member, visits.plan_year == year)
    )
    return [met, used]


def _inquiry() -> Executable:
    branches = [_provider_rows(), _member_rows(), _network_rows(), *_amount_rows()]
    return union_all(*branches).order_by(*(literal_column(name) for name in _ORDER))


_INQUIRY = _inquiry()


@dataclass
class InquiryRows:
    """What one eligibility inquiry reads: the provider records in effect under the
    token's TINs (by TIN and NPI, with locations), the member asked about (if on file)
    with coverages, PCP and counters, the records' networks for the member's products,
    and the amounts met and visits used in the plan year."""

    providers: list[Provider]
    member: MemberView | None
    networks: dict[tuple[int, int], str]  # (provider record, product) -> status
    amounts: YearAmounts

    def member_for(self, provider_id: int) -> MemberView | None:
        """The member with each coverage's network status for this provider record."""
        if self.member is None:
            return None
        member = replace(self.member)
        member.coverages = [
            replace(c, network=self.networks.get((provider_id, c.product_id)))
            for c in self.member.coverages
        ]
        return member


async def inquiry_rows(
    session: AsyncSession,
    tax_ids: Iterable[str],
    on: date,
    member_id: str,
    client_key: str,
) -> InquiryRows:
    """Everything an eligibility inquiry reads: one statement (one round trip)."""
    values = {
        "tins": sorted(set(tax_ids)),
        "on": on,
        "member_id": member_id,
        "client_key": client_key,
        "year": on.year,
    }
    rows = (await session.execute(_INQUIRY, values)).mappings()
    read = InquiryRows([], None, {}, YearAmounts())
    providers: dict[int, Provider] = {}
    for row in rows:
        tag = row["tag"]
        if tag == "p":
            _add_provider(providers, row)
        elif tag == "m":
            read.member = _add_coverage(read.member, row)
        elif tag == "n":
            read.networks[(row["net_provider"], row["cov_product"])] = row["net_status"]
        elif tag == "v":
            read.amounts.visits[row["a_kind"]] = row["v_used"]
        elif (row["a_level"] == "individual") == (row["a_holder"] == member_id):
            read.amounts.met[(row["a_kind"], row["a_level"], row["a_network"])] = row["a_met"]
    read.providers = list(providers.values())
    return read


def _add_provider(found: dict[int, Provider], row: RowMapping) -> None:
    provider = found.get(row["p_id"])
    if provider is None:
        provider = found[row["p_id"]] = Provider(
            row["p_id"],
            row["p_npi"],
            row["p_tin"],
            row["p_name"],
            row["p_taxonomy"],
            row["p_status"],
            row["p_from"],
            row["p_to"],
        )
    if row["loc_id"] is not None:
        provider.locations.append(
            Location(row["loc_address"], row["loc_city"], row["loc_state"], row["loc_postal"])
        )


def _add_coverage(view: MemberView | None, row: RowMapping) -> MemberView:
    if view is None:
        view = MemberView(
            row["m_id"],
            row["m_member_id"],
            row["m_subscriber"],
            row["m_relation"],
            row["m_first"],
            row["m_last"],
            row["m_born"],
            row["pcp_npi"],
            row["pcp_name"],
            member_window=_window(row["mine_started"], row["mine_failures"]),
            client_window=_window(row["client_started"], row["client_failures"]),
        )
    if row["cov_id"] is not None:
        view.coverages.append(
            CoverageRow(row["cov_product"], row["cov_from"], row["cov_to"], network=None)
        )
    return view


def _window(started: datetime | None, failures: int) -> Window | None:
    return Window(started, failures) if started is not None else None
