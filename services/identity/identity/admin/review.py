"""Access review: who has access to which TINs, with role, last login and MFA status
(HIPAA-minded offices review this periodically), as JSON or CSV."""

from __future__ import annotations

import io
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from identity import suspensions
from identity.admin import service
from identity.admin.administrators import subtree
from identity.models import Membership, Organization
from identity.security import format_tin
from policy import csvsafe

COLUMNS = (
    "organization",
    "username",
    "name",
    "email",
    "role",
    "plan_roles",
    "tax_ids",
    "status",
    "last_login",
    "mfa",
)


async def rows(session: AsyncSession, actor: service.Actor, org_id: str) -> list[dict[str, Any]]:
    await service.organization(session, actor, org_id)
    orgs = await subtree(session, {org_id})
    members = await session.scalars(
        select(Membership)
        .options(
            selectinload(Membership.user),
            selectinload(Membership.tax_ids),
            selectinload(Membership.organization),
        )
        .join(Organization, Organization.id == Membership.organization_id)
        .where(Membership.organization_id.in_(orgs))
        .order_by(Organization.name, Membership.role)
    )
    return [
        {
            "organization": m.organization.name,
            "user_id": m.user.id,
            "username": m.user.username,
            "name": f"{m.user.given_name} {m.user.family_name}".strip(),
            "email": m.user.email,
            "role": m.role,
            "plan_roles": sorted(m.plan_roles),
            "tax_ids": sorted(format_tin(t.tin) for t in m.tax_ids),
            "status": m.user.status,
            "suspension_level": suspensions.made_at(m.user),
            "last_login": m.user.last_login_at.isoformat() if m.user.last_login_at else None,
            "mfa": m.user.mfa_enabled,
        }
        for m in members
    ]


def as_csv(entries: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csvsafe.writer(buffer)  # names and e-mails are tenant text: no formulas
    writer.writerow(COLUMNS)
    for entry in entries:
        writer.writerow(
            [
                " ".join(entry[c])
                if isinstance(entry[c], list)
                else ("yes" if entry[c] is True else "no" if entry[c] is False else entry[c] or "")
                for c in COLUMNS
            ]
        )
    return buffer.getvalue()
