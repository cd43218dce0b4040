"""Nominating subscribers: an e-mail with a single-use link that expires; following it,
the nominee chooses a username and password (under the policy) and becomes active
with exactly the role, plan roles and TINs the administrator chose."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from identity import admin_ops
from identity.admin import service
from identity.mail import Mailer, quoted
from identity.models import Membership, Nomination, User
from identity.problems import invalid, not_found
from identity.security import generate_secret, token_digest
from identity.settings import Settings
from identity.throttle import Throttle
from policy.problems import Problem

LINK_TTL = timedelta(days=7)
ORGANIZATION_BUCKET = "invitation_organization"
ADDRESS_BUCKET = "invitation_address"


def _link(settings: Settings, token: str) -> str:
    return f"{settings.issuer.rstrip('/')}/nominations/accept?token={token}"


async def nominate(
    session: AsyncSession,
    actor: service.Actor,
    org_id: str,
    data: dict[str, Any],
    settings: Settings,
    throttle: Throttle,
) -> tuple[Nomination, str]:
    org = await service.organization(session, actor, org_id)
    email = str(data.get("email", "")).strip()
    if "@" not in email:
        raise invalid("Enter the nominee's e-mail address, like name@example.org.", field="email")
    role = str(data.get("role", "subscriber"))
    if role not in service.ROLES:
        raise invalid(f"role is one of {', '.join(service.ROLES)}", field="role")
    plan_roles = service.checked_plan_roles(data.get("plan_roles", []))
    grants = await service.grantable(session, actor, org_id, data.get("tax_ids", []))
    await check_limits(throttle, org_id, email)
    token = generate_secret()
    row = Nomination(
        organization_id=org.id,
        email=email,
        given_name=str(data.get("given_name", ""))[:100],
        family_name=str(data.get("family_name", ""))[:100],
        role=role,
        plan_roles=plan_roles,
        tax_ids=[t.tin for t in grants],
        token_digest=token_digest(token),
        created_by=actor.admin.user.id,
        expires_at=datetime.now(UTC) + LINK_TTL,
    )
    session.add(row)
    await session.flush()
    await service.record(
        session,
        actor,
        "subscriber.nominated",
        org_id,
        "nomination",
        row.id,
        after={"email": email, "role": role, "plan_roles": row.plan_roles, "tax_ids": row.tax_ids},
    )
    return row, token


async def send(
    mailer: Mailer, settings: Settings, row: Nomination, org_name: str, token: str
) -> None:
    await mailer.send(
        row.email,
        "You are invited to TINpass",
        "An administrator of an organization on TINpass invites you to act for it.\n"
        f"The organization's name, as the organization gave it: {quoted(org_name)}\n"
        "(TINpass does not write or vouch for this name.)\n\n"
        "Open this link within 7 days to choose your username and password (it works once):\n"
        f"{_link(settings, token)}\n\n"
        "If you do not know this organization, ignore this e-mail.\n",
    )


# The OpenAPI description of check_limits's refusal, on the routes that send invitations.
TOO_MANY: dict[int | str, dict[str, Any]] = {
    429: {
        "description": "Too many invitations for this address or organization were sent "
        "recently: retry after `Retry-After` seconds."
    }
}


async def check_limits(throttle: Throttle, org_id: str, email: str) -> None:
    """Invitations (nominations and resends) per organization and per invited address."""
    for bucket, key, whom in (  # the address first: its refusals spend no organization's
        (ADDRESS_BUCKET, email.strip().lower(), "this address"),
        (ORGANIZATION_BUCKET, org_id, "this organization"),
    ):
        wait = await throttle.retry_after(bucket, key)
        if wait is not None:
            problem = Problem(
                429,
                "Too many invitations",
                f"Too many invitations for {whom} were sent recently. Try again in {wait} seconds.",
                "too-many-invitations",
                retry_after=wait,
            )
            problem.headers["Retry-After"] = str(wait)
            raise problem


async def pending(
    session: AsyncSession, actor: service.Actor, org_id: str, nomination_id: str
) -> Nomination:
    await service.organization(session, actor, org_id)
    row = await session.get(Nomination, nomination_id)
    if row is None or row.organization_id != org_id or row.accepted_at or row.cancelled_at:
        raise not_found("nomination")
    return row


async def resend(
    session: AsyncSession, actor: service.Actor, org_id: str, nomination_id: str, throttle: Throttle
) -> tuple[Nomination, str]:
    row = await pending(session, actor, org_id, nomination_id)
    await check_limits(throttle, org_id, row.email)
    token = generate_secret()
    row.token_digest, row.expires_at = token_digest(token), datetime.now(UTC) + LINK_TTL
    await service.record(session, actor, "nomination.resent", org_id, "nomination", row.id)
    return row, token


async def cancel(
    session: AsyncSession, actor: service.Actor, org_id: str, nomination_id: str
) -> None:
    row = await pending(session, actor, org_id, nomination_id)
    row.cancelled_at = datetime.now(UTC)
    await service.record(session, actor, "nomination.cancelled", org_id, "nomination", row.id)


async def open_nomination(session: AsyncSession, token: str) -> Nomination | None:
    row = await session.scalar(
        select(Nomination).where(Nomination.token_digest == token_digest(token))
    )
    if row is None or row.accepted_at or row.cancelled_at or row.expires_at <= datetime.now(UTC):
        return None
    return row


async def accept(
    session: AsyncSession, settings: Settings, row: Nomination, username: str, password: str
) -> User:
    """Create the account and its membership; the link is used up."""
    user = await admin_ops.create_user(
        session, settings, username, row.email, password, row.given_name, row.family_name
    )
    await join(session, row, user)
    return user


async def existing_account(session: AsyncSession, row: Nomination) -> User | None:
    """The account that already has the nominee's e-mail address (one address, one account)."""
    return await session.scalar(select(User).where(User.email_normalized == row.email.lower()))


async def join(session: AsyncSession, row: Nomination, user: User) -> Membership:
    """Give `user` the nominated membership (a person may work for several organizations);
    the link is used up. A person already in the organization keeps their membership."""
    usable = await service.usable_tins(session, row.organization_id)
    tins = [usable[tin] for tin in sorted(set(row.tax_ids)) if tin in usable]
    member = await session.scalar(
        select(Membership).where(
            Membership.user_id == user.id, Membership.organization_id == row.organization_id
        )
    )
    if member is None:
        member = Membership(
            user_id=user.id,
            organization_id=row.organization_id,
            role=row.role,
            plan_roles=list(row.plan_roles),
        )
        member.tax_ids = tins
        session.add(member)
    row.accepted_at = datetime.now(UTC)
    await session.flush()
    return member
