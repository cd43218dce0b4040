"""A user's standing, in one query: the account and, per membership, the organization,
the TINs granted there and the roles held; and the Subject a token is made for.

One statement joins users, memberships, organizations and the memberships' verified
TINs (a row per TIN, or per membership without one, or one for a user without
memberships). The OAuth store keeps the standing for the rest of its request, so
a login asks for it once for both the second-factor rule and the token's subject.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from identity import plan_roles
from identity.models import Membership, Organization, TaxId, User, membership_tax_ids
from identity.store.org_context import common_roles, select_contexts, union_tins
from identity.store.snapshots import OrgContext, Subject

_STANDING = (
    select(
        User.id,
        User.username,
        User.email,
        User.given_name,
        User.family_name,
        User.status,
        Membership.id.label("membership_id"),
        Membership.role,
        Membership.plan_roles,
        Organization.id.label("organization_id"),
        Organization.name.label("organization_name"),
        Organization.status.label("organization_status"),
        Organization.mfa_required,
        TaxId.tin,
    )
    .select_from(User)
    .outerjoin(Membership, Membership.user_id == User.id)
    .outerjoin(Organization, Organization.id == Membership.organization_id)
    .outerjoin(membership_tax_ids, membership_tax_ids.c.membership_id == Membership.id)
    # Only verified TINs reach a token, whatever grant might linger.
    .outerjoin(TaxId, and_(TaxId.id == membership_tax_ids.c.tax_id_id, TaxId.status == "active"))
    .where(User.id == bindparam("user_id"))
    .order_by(Membership.created_at, Membership.id)
)


@dataclass(frozen=True)
class MembershipStanding:
    organization_id: str
    organization_name: str
    organization_active: bool
    mfa_required: bool
    tax_ids: tuple[str, ...]  # verified ones, sorted
    roles: tuple[str, ...]  # the membership's role, then its known plan roles

    def context(self) -> OrgContext:
        return OrgContext(self.organization_id, self.organization_name, self.tax_ids, self.roles)


@dataclass(frozen=True)
class Standing:
    user_id: str
    username: str
    email: str
    given_name: str
    family_name: str
    status: str
    memberships: tuple[MembershipStanding, ...]  # in order of creation

    @property
    def mfa_required(self) -> bool:
        """An organization of the user's requires a second factor (any membership)."""
        return any(m.mfa_required for m in self.memberships)


async def read_standing(session: AsyncSession, user_id: str) -> Standing | None:
    """The user and their memberships (one statement); None for an unknown user."""
    rows = (await session.execute(_STANDING, {"user_id": user_id})).all()
    if not rows:
        return None
    first = rows[0]
    return Standing(
        user_id=first.id,
        username=first.username,
        email=first.email,
        given_name=first.given_name,
        family_name=first.family_name,
        status=first.status,
        memberships=_memberships(rows),
    )


def _memberships(rows: Sequence[Any]) -> tuple[MembershipStanding, ...]:
    tins: dict[str, set[str]] = {}
    firsts: dict[str, Any] = {}
    for row in rows:
        if row.membership_id is None:
            continue
        firsts.setdefault(row.membership_id, row)
        found = tins.setdefault(row.membership_id, set())
        if row.tin is not None:
            found.add(row.tin)
    return tuple(
        MembershipStanding(
            organization_id=row.organization_id,
            organization_name=row.organization_name,
            organization_active=row.organization_status == "active",
            mfa_required=bool(row.mfa_required),
            tax_ids=tuple(sorted(tins[membership_id])),
            roles=tuple(dict.fromkeys([row.role, *plan_roles.known(row.plan_roles or [])])),
        )
        for membership_id, row in firsts.items()
    )


def subject_of(
    standing: Standing,
    organization_id: str | None,
    tin_limit: int,
    *,
    auth_time: int,
    acr: str,
    amr: Iterable[str],
    sid: str | None,
    grant_id: str | None = None,
) -> Subject | None:
    """The user with fresh organization context, or None if they may not sign in.

    `organization_id` is the organization the relying party asked for (or the
    one its grant was pinned to); without it the context covers the user's
    active memberships (`identity.store.org_context`). Memberships of
    organizations that are not active never count; a user who has memberships,
    all of them in such organizations, gets no tokens."""
    if standing.status != "active":
        return None
    memberships = [
        m
        for m in standing.memberships
        if not organization_id or m.organization_id == organization_id
    ]
    contexts = [m.context() for m in memberships if m.organization_active]
    if memberships and not contexts:
        return None
    covered = select_contexts(contexts, tin_limit)
    single = covered[0] if len(covered) == 1 else None
    return Subject(
        user_id=standing.user_id,
        username=standing.username,
        email=standing.email,
        given_name=standing.given_name,
        family_name=standing.family_name,
        organization_id=single.id if single else None,
        organization_name=single.name if single else None,
        tax_ids=union_tins(covered),
        roles=common_roles(covered),
        auth_time=auth_time,
        acr=acr,
        amr=tuple(amr),
        sid=sid,
        orgs=covered,
        grant_id=grant_id,
    )
