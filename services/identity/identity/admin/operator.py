"""What TINpass operators decide: pending registrations (verify or reject with a
reason) and TINs that another organization already holds (approve or reject).

Each decision is one transaction with its audit event; the organization's
administrators are told by e-mail after the commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from identity import audit
from identity.admin.problems import AdminProblem, conflict, invalid
from identity.models import Membership, Organization, TaxId, User
from identity.security import format_tin


@dataclass(frozen=True)
class Decision:
    operator: User
    request_id: str | None
    source_address: str | None


def gone(what: str) -> AdminProblem:
    return AdminProblem(404, "Not found", f"No {what} with that id is waiting.", "not-found")


async def administrators(session: AsyncSession, org_id: str) -> list[User]:
    return list(
        await session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.organization_id == org_id, Membership.role == "administrator")
            .order_by(User.created_at)
        )
    )


async def pending_registrations(session: AsyncSession) -> list[dict[str, Any]]:
    orgs = await session.scalars(
        select(Organization)
        .options(selectinload(Organization.tax_ids))
        .where(Organization.status == "pending_verification")
        .order_by(Organization.created_at)
    )
    found = []
    for org in orgs:
        admins = await administrators(session, org.id)
        found.append(
            {
                "id": org.id,
                "name": org.name,
                "address": f"{org.street}, {org.city}, {org.state} {org.postal_code}",
                "phone": org.phone,
                "npis": list(org.npis),
                "tax_ids": [{"tin": format_tin(t.tin), "status": t.status} for t in org.tax_ids],
                "administrators": [
                    {
                        "name": f"{u.given_name} {u.family_name}".strip(),
                        "email": u.email,
                        "email_confirmed": u.status == "active",
                    }
                    for u in admins
                ],
                "registered_at": org.created_at.isoformat(),
            }
        )
    return found


async def _record(
    session: AsyncSession,
    by: Decision,
    event: str,
    org_id: str,
    target: tuple[str, str],
    before: Any,
    after: Any,
) -> None:
    await audit.record(
        session,
        event,
        actor_type="user",
        actor_id=by.operator.id,
        organization_id=org_id,
        target_type=target[0],
        target_id=target[1],
        details={"before": before, "after": after},
        request_id=by.request_id,
        source_address=by.source_address,
    )


async def decide_registration(
    session: AsyncSession, by: Decision, org_id: str, verified: bool, reason: str
) -> Organization:
    org = await session.get(Organization, org_id)
    if org is None or org.status != "pending_verification":
        raise gone("pending registration")
    reason = reason.strip()
    if not verified and not reason:
        raise invalid(
            "Give the reason for the rejection; the applicant will read it.", field="reason"
        )
    admins = await administrators(session, org_id)
    if verified and not any(u.status == "active" for u in admins):
        raise conflict(
            "The applicant has not confirmed their e-mail address yet; verify after they do.",
            "email-not-confirmed",
        )
    before = org.status
    org.status = "active" if verified else "rejected"
    org.decided_at, org.decided_by = datetime.now(UTC), by.operator.id
    org.decision_reason = reason or None
    event = "organization.verified" if verified else "organization.rejected"
    await _record(
        session,
        by,
        event,
        org.id,
        ("organization", org.id),
        before,
        {"status": org.status, "reason": reason or None},
    )
    return org


async def tin_requests(session: AsyncSession) -> list[dict[str, Any]]:
    rows = await session.scalars(
        select(TaxId)
        .options(selectinload(TaxId.organization))
        .where(TaxId.status == "pending_approval")
        .order_by(TaxId.created_at)
    )
    found = []
    for row in rows:
        holders = await session.scalars(
            select(Organization.name)
            .join(TaxId, TaxId.organization_id == Organization.id)
            .where(TaxId.tin == row.tin, TaxId.status == "active")
        )
        found.append(
            {
                "id": row.id,
                "tin": format_tin(row.tin),
                "organization": {"id": row.organization_id, "name": row.organization.name},
                "held_by": sorted(holders),
                "requested_at": row.created_at.isoformat(),
            }
        )
    return found


async def decide_tin(
    session: AsyncSession, by: Decision, request_id: str, approved: bool, reason: str
) -> TaxId:
    row = await session.get(TaxId, request_id)
    if row is None or row.status != "pending_approval":
        raise gone("Tax ID request")
    if not approved and not reason.strip():
        raise invalid("Give the reason for the rejection.", field="reason")
    shown = format_tin(row.tin)
    if approved:
        row.status = "active"
        await _grant_to_requester(session, row)
    else:
        await session.delete(row)
    event = "tax_id.approved" if approved else "tax_id.rejected"
    await _record(
        session,
        by,
        event,
        row.organization_id,
        ("tax_id", row.tin),
        "pending_approval",
        {
            "tin": shown,
            "status": "active" if approved else "rejected",
            "reason": reason.strip() or None,
        },
    )
    await session.flush()
    return row


async def _grant_to_requester(session: AsyncSession, row: TaxId) -> None:
    """The administrator who asked for the TIN may act for it once it is approved."""
    if row.requested_by is None:
        return
    member = await session.scalar(
        select(Membership)
        .options(selectinload(Membership.tax_ids))
        .where(
            Membership.user_id == row.requested_by,
            Membership.organization_id == row.organization_id,
        )
    )
    if member is not None and row not in member.tax_ids:
        member.tax_ids.append(row)
