"""What TINpass operators look up: every organization and every person, a page at a
time, searched by name, username, e-mail address or TIN. Reads only.

A search matches a part of a name, username or e-mail address, whatever the case
(LIKE wildcards in it are plain characters); a search of digits (dashes and spaces
ignored) also matches the TINs that contain them: an organization holding such a
TIN, and a person granted such a TIN (acting for it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from identity.models import Membership, Organization, TaxId, User, membership_tax_ids
from identity.security import format_tin

PAGE_SIZE = 20


@dataclass(frozen=True)
class Paged:
    items: list[dict[str, Any]]
    page: int
    pages: int
    total: int
    more: bool = False  # more than `total` match (counting stopped there)


def tin_digits(text: str) -> str:
    """The digits of a search that looks like (part of) a TIN, else ''."""
    compact = text.replace("-", "").replace(" ", "")
    return compact if len(compact) >= 2 and compact.isdigit() else ""


def contains(column: Any, text: str) -> ColumnElement[bool]:
    return func.lower(column).contains(text.lower(), autoescape=True)


async def paged(
    session: AsyncSession,
    query: Select[Any],
    page: int,
    size: int = PAGE_SIZE,
    count_up_to: int | None = None,
) -> tuple[list[Any], int, int, int]:
    """(rows of the page, page, pages, total); a page past the end shows the last one.
    With `count_up_to`, counting stops past that many (total is then count_up_to + 1)."""
    counted = query.limit(count_up_to + 1) if count_up_to else query
    total = int(await session.scalar(select(func.count()).select_from(counted.subquery())) or 0)
    pages = max(1, -(-min(total, count_up_to or total) // size))
    page = min(max(1, page), pages)
    rows = list(await session.scalars(query.limit(size).offset((page - 1) * size)))
    return rows, page, pages, total


def _organizations_holding(digits: str) -> Select[Any]:
    return select(TaxId.organization_id).where(TaxId.tin.contains(digits, autoescape=True))


async def organizations(session: AsyncSession, search: str = "", page: int = 1) -> Paged:
    query = select(Organization).options(selectinload(Organization.tax_ids))
    text = search.strip()
    if text:
        digits = tin_digits(text)
        query = query.where(
            or_(
                contains(Organization.name, text),
                Organization.id.in_(_organizations_holding(digits)) if digits else false(),
            )
        )
    rows, page, pages, total = await paged(
        session, query.order_by(func.lower(Organization.name), Organization.id), page
    )
    people = dict(
        (
            await session.execute(
                select(Membership.organization_id, func.count())
                .where(Membership.organization_id.in_([o.id for o in rows]))
                .group_by(Membership.organization_id)
            )
        ).all()
    )
    parent_ids = {o.parent_id for o in rows if o.parent_id}
    parents = dict(
        (
            await session.execute(
                select(Organization.id, Organization.name).where(Organization.id.in_(parent_ids))
            )
        ).all()
    )
    return Paged([_organization(o, people.get(o.id, 0), parents) for o in rows], page, pages, total)


def _organization(org: Organization, people: int, names: dict[str, str]) -> dict[str, Any]:
    return {
        "id": org.id,
        "name": org.name,
        "status": org.status,
        "parent": names.get(org.parent_id, "") if org.parent_id else "",
        "registered_at": org.created_at,
        "mfa_required": org.mfa_required,
        "people": people,
        "tax_ids": [
            {"tin": format_tin(t.tin), "status": t.status}
            for t in sorted(org.tax_ids, key=lambda t: t.tin)
        ],
    }


def person_matches(text: str) -> ColumnElement[bool]:
    """A person whose name, username or e-mail contains the text (or id is the text)."""
    return or_(
        User.id == text,
        contains(User.username, text),
        contains(User.email, text),
        contains(User.given_name + " " + User.family_name, text),
    )


def _people_with_tin(digits: str) -> Select[Any]:
    """The people granted a TIN containing the digits (they act for it)."""
    return (
        select(Membership.user_id)
        .join(membership_tax_ids, membership_tax_ids.c.membership_id == Membership.id)
        .join(TaxId, TaxId.id == membership_tax_ids.c.tax_id_id)
        .where(TaxId.tin.contains(digits, autoescape=True))
    )


async def people(session: AsyncSession, search: str = "", page: int = 1) -> Paged:
    query = select(User).options(
        selectinload(User.memberships).selectinload(Membership.organization),
        selectinload(User.memberships).selectinload(Membership.tax_ids),
    )
    text = search.strip()
    if text:
        digits = tin_digits(text)
        query = query.where(
            or_(
                person_matches(text),
                User.id.in_(_people_with_tin(digits)) if digits else false(),
            )
        )
    rows, page, pages, total = await paged(
        session, query.order_by(User.username_normalized, User.id), page
    )
    return Paged([_person(u) for u in rows], page, pages, total)


def _person(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "name": f"{user.given_name} {user.family_name}".strip(),
        "email": user.email,
        "status": user.status,
        "suspension_level": user.suspension_level,
        "is_operator": user.is_operator,
        "mfa_enabled": user.mfa_enabled,
        "last_login_at": user.last_login_at,
        "created_at": user.created_at,
        "memberships": [
            {
                "organization": m.organization.name,
                "role": m.role,
                "tax_ids": sorted(format_tin(t.tin) for t in m.tax_ids),
            }
            for m in sorted(user.memberships, key=lambda m: m.organization.name)
        ],
    }
