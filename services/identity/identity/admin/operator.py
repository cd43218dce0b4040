"""What TINpass operators decide: pending registrations (verify or reject with a
reason), TINs waiting for verification (verify or reject with a reason, seeing the
evidence: `identity.tin_verification`) and verified TINs to revoke.

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
from identity import tin_verification as tins
from identity.mail import Mailer, quoted
from identity.models import Membership, Organization, TaxId, User
from identity.problems import conflict, invalid
from identity.security import format_tin
from identity.settings import Settings
from policy.problems import Problem


@dataclass(frozen=True)
class Decision:
    operator: User
    request_id: str | None
    source_address: str | None


def gone(what: str) -> Problem:
    return Problem(404, "Not found", f"No {what} with that id is waiting.", "not-found")


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
                "tax_ids": [await tins.describe(session, t) for t in org.tax_ids],
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
    if not verified:
        await _reject_pending_tins(session, by, org.id, reason)
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


async def decide_tin(
    session: AsyncSession, by: Decision, tax_id_id: str, approved: bool, reason: str
) -> TaxId:
    """Verify (`active`) or reject a TIN waiting for verification; a rejection needs a
    reason, which the organization's administrators read."""
    reason = reason.strip()
    if not approved and not reason:
        raise invalid(
            "Give the reason for the rejection; the organization will read it.", field="reason"
        )
    status = tins.ACTIVE if approved else tins.REJECTED
    row = await tins.transition(
        session,
        tax_id_id,
        tins.PENDING,
        {
            "status": status,
            "decided_by": by.operator.id,
            "decided_at": datetime.now(UTC),
            "decision_reason": reason or None,
        },
        "Tax ID waiting for verification",
    )
    if approved:
        await _grant_to_requester(session, row)
    event = "tax_id.verified" if approved else "tax_id.rejected"
    after = {"tin": format_tin(row.tin), "status": status, "reason": reason or None}
    await _record(session, by, event, row.organization_id, ("tax_id", row.tin), tins.PENDING, after)
    await session.flush()
    return row


async def revoke_tin(session: AsyncSession, by: Decision, tax_id_id: str, reason: str) -> TaxId:
    """Revoke a verified TIN: every grant of it (people and integrator clients) ends, so
    the next token, also one from a refresh, no longer carries it."""
    reason = reason.strip()
    if not reason:
        raise invalid(
            "Give the reason for the revocation; the organization will read it.", field="reason"
        )
    row = await tins.transition(
        session,
        tax_id_id,
        tins.ACTIVE,
        {
            "status": tins.REVOKED,
            "revoked_by": by.operator.id,
            "revoked_at": datetime.now(UTC),
            "revocation_reason": reason,
        },
        "verified Tax ID",
    )
    await tins.end_grants(session, row.id)
    after = {"tin": format_tin(row.tin), "status": tins.REVOKED, "reason": reason}
    await _record(
        session, by, "tax_id.revoked", row.organization_id, ("tax_id", row.tin), tins.ACTIVE, after
    )
    await session.flush()
    return row


async def _reject_pending_tins(
    session: AsyncSession, by: Decision, org_id: str, reason: str
) -> None:
    """A rejected registration's TINs are rejected with it (nobody will ever act for them)."""
    waiting = await session.scalars(
        select(TaxId.id).where(TaxId.organization_id == org_id, TaxId.status == tins.PENDING)
    )
    for tax_id_id in list(waiting):
        await decide_tin(session, by, tax_id_id, False, reason)


async def _grant_to_requester(session: AsyncSession, row: TaxId) -> None:
    """The administrator who asked for the TIN may act for it once it is verified."""
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


async def tell_administrators(
    mailer: Mailer, settings: Settings, admins: list[Any], org: Organization
) -> None:
    named = f"The organization's name, as it was registered: {quoted(org.name)}\n\n"
    if org.status == "active":
        for admin in admins:
            await mailer.send(
                admin.email,
                "Your organization is verified on TINpass",
                f"TINpass verified your organization.\n{named}"
                "You can now sign in, add your people and Tax IDs, and reach health plans' "
                f"portals:\n{settings.issuer.rstrip('/')}/console\n\n"
                "Each Tax ID is verified on its own: nobody acts for one until TINpass has "
                "verified it, and we tell you by e-mail when we have.\n",
            )
        return
    for admin in admins:
        await mailer.send(
            admin.email,
            "Your TINpass registration was not accepted",
            f"TINpass could not verify your organization.\n{named}"
            f"Reason: {org.decision_reason}\n\n"
            "Reply to this message or register again with corrected details.\n",
        )
