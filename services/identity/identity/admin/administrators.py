"""Who administers what: an administrator manages the organizations they administer
and every sub-organization below them; anything else answers 404, exactly like
something that does not exist, so no administrator can learn of another organization.
The admin API (`identity.admin.auth`) and the console build the same `Administrator`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from identity.models import Membership, Organization, User
from identity.problems import not_found


@dataclass(frozen=True)
class Administrator:
    user: User
    managed: frozenset[str]

    def organization(self, org_id: str) -> str:
        """The organization id when this administrator manages it; 404 otherwise."""
        if org_id not in self.managed:
            raise not_found("organization")
        return org_id


async def subtree(session: AsyncSession, roots: set[str]) -> frozenset[str]:
    """The organizations `roots` and everything below them (a recursive query)."""
    if not roots:
        return frozenset()
    tree = select(Organization.id).where(Organization.id.in_(roots)).cte("tree", recursive=True)
    tree = tree.union_all(select(Organization.id).where(Organization.parent_id == tree.c.id))
    return frozenset(await session.scalars(select(tree.c.id)))


async def administrator_for(session: AsyncSession, user: User) -> Administrator:
    """What `user` administers: active organizations where they are an administrator,
    and everything below them."""
    roots = set(
        await session.scalars(
            select(Membership.organization_id)
            .join(Organization, Organization.id == Membership.organization_id)
            .where(
                Membership.user_id == user.id,
                Membership.role == "administrator",
                Organization.status == "active",
            )
        )
    )
    return Administrator(user, await subtree(session, roots))
