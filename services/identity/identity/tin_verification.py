"""How a TIN becomes usable: an organization asks, with evidence; an operator decides.

Every TIN an organization gives (at registration, added by an administrator, added
to a sub-organization) starts `pending_verification` with its evidence: the legal
name as registered with the IRS and the statement the person attested, with who
attested and when. It is granted to nobody and carried in no token until a TINpass
operator verifies it (`active`) or rejects it (`rejected`, with a reason). An
operator can later revoke a verified TIN (`revoked`, with a reason): its grants end,
so the next token (also one from a refresh) no longer carries it. Sub-organizations
may instead use their parent's verified TINs (`service.usable_tins`).

Each step is one transaction with its audit event; the organization's
administrators are told by e-mail after the commit (`notify`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from identity.mail import Mailer, quoted
from identity.models import (
    Organization,
    TaxId,
    User,
    client_tax_ids,
    membership_tax_ids,
)
from identity.problems import conflict, invalid
from identity.security import format_tin
from policy.problems import Problem

PENDING, ACTIVE, REJECTED, REVOKED = "pending_verification", "active", "rejected", "revoked"
STATEMENT = (
    "I attest that {legal_name} is the name registered with the IRS for Tax ID {tin}, "
    "that the organization {organization} owns this Tax ID, and that I am authorized "
    "to act for it on TINpass."
)


@dataclass(frozen=True)
class Evidence:
    """What the person asking for a TIN gives: the IRS legal name and the attestation."""

    legal_name: str
    attested: bool


def statement(legal_name: str, tin: str, organization: str) -> str:
    """The exact statement a person attests when they ask for `tin` (nine digits)."""
    return STATEMENT.format(legal_name=legal_name, tin=format_tin(tin), organization=organization)


def checked(evidence: Evidence) -> str:
    """The legal name to keep; a 422 naming the field when the evidence is missing."""
    name = " ".join(evidence.legal_name.split())
    if not name:
        raise invalid(
            "Give the organization's legal name exactly as registered with the IRS for this "
            "Tax ID.",
            field="legal_name",
        )
    if len(name) > 200:
        raise invalid("The legal name is at most 200 characters.", field="legal_name")
    if not evidence.attested:
        raise invalid(
            "Attest that your organization owns this Tax ID (attest: true); TINpass "
            "operators check the evidence before anyone can act for it.",
            field="attest",
        )
    return name


async def request(
    session: AsyncSession, org: Organization, digits: str, label: str, evidence: Evidence, by: str
) -> TaxId:
    """Ask for `digits` for `org`, `pending_verification`, with the evidence attested by
    user `by`. A TIN the organization already has (pending or verified) is a 409; a
    rejected or revoked one may be asked for again with new evidence."""
    legal_name = checked(evidence)
    values: dict[str, Any] = {
        "label": label.strip()[:200],
        "status": PENDING,
        "requested_by": by,
        "legal_name": legal_name,
        "attestation": statement(legal_name, digits, org.name),
        "attested_by": by,
        "attested_at": datetime.now(UTC),
        "decided_by": None,
        "decided_at": None,
        "decision_reason": None,
    }
    existing = await session.scalar(
        select(TaxId).where(TaxId.organization_id == org.id, TaxId.tin == digits)
    )
    if existing is None:
        row = TaxId(organization_id=org.id, tin=digits, **values)
        session.add(row)
        try:
            await session.flush()
        except IntegrityError as error:  # the same TIN asked for at the same moment
            await session.rollback()
            raise _exists(digits) from error
        return row
    asked_again = await session.execute(
        update(TaxId)
        .where(TaxId.id == existing.id, TaxId.status.in_((REJECTED, REVOKED)))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if getattr(asked_again, "rowcount", 0) != 1:
        raise _exists(digits)
    await session.refresh(existing)
    return existing


def _exists(digits: str) -> Problem:
    return conflict(
        f"Tax ID {format_tin(digits)} is already one of this organization's (verified or "
        "waiting for verification).",
        "tin-exists",
    )


async def held_elsewhere(session: AsyncSession, row: TaxId, status: str = ACTIVE) -> list[str]:
    """Names of the other organizations with the same TIN in `status`."""
    names = await session.scalars(
        select(Organization.name)
        .join(TaxId, TaxId.organization_id == Organization.id)
        .where(TaxId.tin == row.tin, TaxId.status == status, TaxId.id != row.id)
    )
    return sorted(names)


async def describe(session: AsyncSession, row: TaxId) -> dict[str, Any]:
    """A TIN with its evidence and decisions, as operators see it."""
    org = await session.get(Organization, row.organization_id)
    attester = await session.get(User, row.attested_by) if row.attested_by else None
    return {
        "id": row.id,
        "tin": format_tin(row.tin),
        "label": row.label,
        "status": row.status,
        "organization": {
            "id": row.organization_id,
            "name": org.name if org else "",
            "status": org.status if org else "",
        },
        "legal_name": row.legal_name,
        "attestation": row.attestation,
        "attested_by": _person(attester),
        "attested_at": _when(row.attested_at),
        "held_by": await held_elsewhere(session, row),
        "also_requested_by": await held_elsewhere(session, row, PENDING),
        "requested_at": _when(row.created_at),
        "decided_by": row.decided_by,
        "decided_at": _when(row.decided_at),
        "decision_reason": row.decision_reason,
        "revoked_by": row.revoked_by,
        "revoked_at": _when(row.revoked_at),
        "revocation_reason": row.revocation_reason,
    }


def _person(user: User | None) -> dict[str, str] | None:
    if user is None:
        return None
    name = f"{user.given_name} {user.family_name}".strip()
    return {"id": user.id, "username": user.username, "name": name, "email": user.email}


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def pending(session: AsyncSession, org_id: str | None = None) -> list[dict[str, Any]]:
    """The TINs waiting for an operator (only `org_id`'s, if given), oldest first."""
    query = select(TaxId).where(TaxId.status == PENDING).order_by(TaxId.created_at, TaxId.id)
    if org_id is not None:
        query = query.where(TaxId.organization_id == org_id)
    return [await describe(session, row) for row in await session.scalars(query)]


async def search(session: AsyncSession, digits: str) -> list[dict[str, Any]]:
    """Every organization's row of one TIN, whatever its status (for revocation)."""
    rows = await session.scalars(select(TaxId).where(TaxId.tin == digits).order_by(TaxId.id))
    return [await describe(session, row) for row in rows]


async def end_grants(session: AsyncSession, row_id: str) -> None:
    """Nobody (person or integrator client) acts for this TIN row any more."""
    await session.execute(
        delete(membership_tax_ids).where(membership_tax_ids.c.tax_id_id == row_id)
    )
    await session.execute(delete(client_tax_ids).where(client_tax_ids.c.tax_id_id == row_id))


async def transition(
    session: AsyncSession, row_id: str, before: str, values: dict[str, Any], what: str
) -> TaxId:
    """Move one row from `before` with a conditional update: of two operators deciding
    at once, exactly one wins; the other gets 404 (nothing waiting any more)."""
    done = await session.execute(
        update(TaxId)
        .where(TaxId.id == row_id, TaxId.status == before)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if getattr(done, "rowcount", 0) != 1:
        raise Problem(404, "Not found", f"No {what} with that id.", "not-found")
    row = await session.get(TaxId, row_id, populate_existing=True)
    assert row is not None
    return row


async def notify(mailer: Mailer, admins: list[User], row: TaxId, org_name: str) -> None:
    """Tell the organization's administrators of an operator's decision. The subject is
    fixed text; the organization's name is quoted in the body only."""
    shown = format_tin(row.tin)
    if row.status == ACTIVE:
        body = (
            f"TINpass verified Tax ID {shown} for your organization {quoted(org_name)}. "
            "Its administrators can now grant it to people and integrator clients.\n"
        )
    elif row.status == REJECTED:
        body = (
            f"TINpass did not accept Tax ID {shown} for your organization {quoted(org_name)}.\n\n"
            f"Reason: {row.decision_reason}\n\nNobody can act for it on TINpass.\n"
        )
    else:
        body = (
            f"TINpass revoked Tax ID {shown} of your organization {quoted(org_name)}.\n\n"
            f"Reason: {row.revocation_reason}\n\nNobody acts for it on TINpass any more; "
            "new sign-ins and refreshed tokens no longer carry it.\n"
        )
    for admin in admins:  # subjects are literals: no tenant text in a subject
        if row.status == ACTIVE:
            await mailer.send(admin.email, "A Tax ID was verified on TINpass", body)
        elif row.status == REJECTED:
            await mailer.send(admin.email, "A Tax ID was not accepted on TINpass", body)
        else:
            await mailer.send(admin.email, "A Tax ID was revoked on TINpass", body)
