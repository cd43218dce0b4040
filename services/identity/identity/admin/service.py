"""What an administrator does, each in the caller's transaction with its audit event
(actor, organization, target, before and after, request id)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from identity import accounts, action_tokens, audit, locks, suspensions, tin_verification
from identity import plan_roles as plan_role_rules
from identity.admin.administrators import Administrator, subtree
from identity.mail import Mailer
from identity.models import Membership, Organization, TaxId, User
from identity.problems import conflict, invalid, not_found
from identity.security import format_tin, normalize_tin
from identity.settings import Settings
from policy.problems import Problem

ROLES = ("administrator", "subscriber")


@dataclass(frozen=True)
class ResetLink:
    address: str
    link: str
    minutes: int


@dataclass(frozen=True)
class Actor:
    admin: Administrator
    request_id: str | None
    source_address: str | None


async def record(
    session: AsyncSession,
    actor: Actor,
    event: str,
    org_id: str,
    target_type: str,
    target_id: str,
    before: Any = None,
    after: Any = None,
) -> None:
    await audit.record(
        session,
        event,
        actor_type="user",
        actor_id=actor.admin.user.id,
        organization_id=org_id,
        target_type=target_type,
        target_id=target_id,
        details={"before": before, "after": after},
        request_id=actor.request_id,
        source_address=actor.source_address,
    )


async def organization(session: AsyncSession, actor: Actor, org_id: str) -> Organization:
    org = await session.scalar(
        select(Organization)
        .options(selectinload(Organization.tax_ids))
        .where(Organization.id == actor.admin.organization(org_id))
    )
    if org is None:
        raise not_found("organization")
    return org


async def ancestors(session: AsyncSession, org_id: str) -> frozenset[str]:
    """The organizations above `org_id` (a recursive query up the tree)."""
    up = (
        select(Organization.parent_id.label("id"))
        .where(Organization.id == org_id, Organization.parent_id.is_not(None))
        .cte("up", recursive=True)
    )
    up = up.union_all(
        select(Organization.parent_id)
        .join(up, Organization.id == up.c.id)
        .where(Organization.parent_id.is_not(None))
    )
    return frozenset(await session.scalars(select(up.c.id)))


async def usable_tins(session: AsyncSession, org_id: str) -> dict[str, TaxId]:
    """The verified TINs an organization may grant, by digits: its own, its
    sub-organizations', and those it inherits from the organizations above it."""
    orgs = await subtree(session, {org_id}) | await ancestors(session, org_id)
    rows = await session.scalars(
        select(TaxId)
        .where(TaxId.organization_id.in_(orgs), TaxId.status == tin_verification.ACTIVE)
        .order_by(TaxId.organization_id == org_id, TaxId.id)
    )
    return {row.tin: row for row in rows}


async def subtree_tins(session: AsyncSession, actor: Actor, org_id: str) -> dict[str, TaxId]:
    """The verified TINs `org_id` may grant (see `usable_tins`)."""
    return await usable_tins(session, org_id)


async def add_tin(
    session: AsyncSession,
    actor: Actor,
    org_id: str,
    tin: str,
    label: str,
    evidence: tin_verification.Evidence,
) -> TaxId:
    """Ask for a TIN with its evidence: it waits, `pending_verification`, for a TINpass
    operator and is granted to nobody until verified."""
    org = await organization(session, actor, org_id)
    try:
        digits = normalize_tin(tin)
    except ValueError as error:
        raise invalid(str(error), field="tin") from error
    row = await tin_verification.request(session, org, digits, label, evidence, actor.admin.user.id)
    after = {
        "tin": format_tin(digits),
        "status": row.status,
        "legal_name": row.legal_name,
        "attestation": row.attestation,
    }
    await record(
        session, actor, "tax_id.verification_requested", org_id, "tax_id", digits, after=after
    )
    return row


async def remove_tin(session: AsyncSession, actor: Actor, org_id: str, tin: str) -> None:
    """Remove a TIN: no grant of it survives, so no later token carries it."""
    await organization(session, actor, org_id)
    digits = tin.replace("-", "")
    row = await session.scalar(
        select(TaxId).where(TaxId.organization_id == org_id, TaxId.tin == digits)
    )
    if row is None:
        raise not_found("Tax ID")
    await tin_verification.end_grants(session, row.id)
    await session.delete(row)
    await record(
        session, actor, "tax_id.removed", org_id, "tax_id", digits, before=format_tin(digits)
    )


async def create_sub_organization(
    session: AsyncSession, actor: Actor, org_id: str, name: str
) -> Organization:
    await organization(session, actor, org_id)
    if not name.strip():
        raise invalid("A sub-organization needs a name.", field="name")
    child = Organization(name=name.strip()[:200], parent_id=org_id, status="active")
    session.add(child)
    await session.flush()
    await record(
        session,
        actor,
        "organization.created",
        child.id,
        "organization",
        child.id,
        after={"name": child.name, "parent_id": org_id},
    )
    return child


async def membership(
    session: AsyncSession, actor: Actor, org_id: str, user_id: str, *, for_change: bool = False
) -> Membership:
    """A member of an organization the actor manages. `for_change` first takes the
    organization's lock (`identity.locks`): changes to its members then decide one
    after the other, each on what the previous one committed."""
    await organization(session, actor, org_id)
    if for_change:
        await locks.organization(session, org_id)
    row = await session.scalar(
        select(Membership)
        .options(selectinload(Membership.tax_ids), selectinload(Membership.user))
        .where(Membership.organization_id == org_id, Membership.user_id == user_id)
        .execution_options(populate_existing=True)
    )
    if row is None:
        raise not_found("member")
    return row


def describe(row: Membership) -> dict[str, Any]:
    return {
        "role": row.role,
        "plan_roles": sorted(row.plan_roles),
        "tax_ids": sorted(t.tin for t in row.tax_ids),
    }


async def _administrators(session: AsyncSession, org_id: str) -> int:
    """The organization's active administrators. Callers hold the organization's lock
    (`membership(..., for_change=True)`), so concurrent removals, demotions and
    suspensions never all see another administrator and leave none."""
    count = await session.scalar(
        select(func.count())
        .select_from(Membership)
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.organization_id == org_id,
            Membership.role == "administrator",
            User.status == "active",
        )
    )
    return int(count or 0)


async def update_member(
    session: AsyncSession,
    actor: Actor,
    org_id: str,
    user_id: str,
    *,
    role: str | None,
    plan_roles: Iterable[str] | None,
    tax_ids: Iterable[str] | None,
) -> Membership:
    row = await membership(session, actor, org_id, user_id, for_change=True)
    before = describe(row)
    if role is not None:
        if role not in ROLES:
            raise invalid(f"role is one of {', '.join(ROLES)}", field="role")
        if (
            row.role == "administrator"
            and role != "administrator"
            and await _administrators(session, org_id) <= 1
        ):
            raise conflict(
                "This is the organization's last administrator; add another one first.",
                "last-administrator",
            )
        row.role = role
    if plan_roles is not None:
        row.plan_roles = checked_plan_roles(plan_roles)
    if tax_ids is not None:
        row.tax_ids = await grantable(session, actor, org_id, tax_ids)
    await session.flush()
    await record(
        session,
        actor,
        "membership.changed",
        org_id,
        "user",
        user_id,
        before=before,
        after=describe(row),
    )
    return row


def checked_plan_roles(values: Iterable[object]) -> list[str]:
    """The plan roles, or a 422 problem naming the field if one is not defined."""
    try:
        return plan_role_rules.checked(values)
    except plan_role_rules.UnknownPlanRole as error:
        raise invalid(str(error), field=plan_role_rules.FIELD) from error


async def grantable(
    session: AsyncSession, actor: Actor, org_id: str, tins: Iterable[str]
) -> list[TaxId]:
    available = await subtree_tins(session, actor, org_id)
    wanted = {t.replace("-", "") for t in tins}
    missing = sorted(wanted - available.keys())
    if missing:
        raise invalid(
            f"Tax ID(s) {', '.join(format_tin(t) for t in missing)} are not your organization's.",
            field="tax_ids",
        )
    return [available[t] for t in sorted(wanted)]


async def remove_member(session: AsyncSession, actor: Actor, org_id: str, user_id: str) -> None:
    row = await membership(session, actor, org_id, user_id, for_change=True)
    if row.role == "administrator" and await _administrators(session, org_id) <= 1:
        raise conflict(
            "This is the organization's last administrator; add another before removing this one.",
            "last-administrator",
        )
    before = describe(row)
    user = row.user
    await session.delete(row)
    await session.flush()
    await accounts.end_sessions(session, user_id, "membership_removed")
    await record(session, actor, "membership.removed", org_id, "user", user_id, before=before)
    elsewhere = await session.scalar(select(Membership.id).where(Membership.user_id == user_id))
    if elsewhere is None and not user.is_operator:
        # Nobody else vouches for this person any more: the account is closed (kept,
        # with its audit history, but it can never sign in again).
        previous, user.status = user.status, "deleted"
        await record(
            session,
            actor,
            "user.deleted",
            org_id,
            "user",
            user_id,
            before=previous,
            after="deleted",
        )


async def _only_ours(session: AsyncSession, actor: Actor, user_id: str) -> None:
    """An account-wide action is for people who belong only to what this administrator manages."""
    orgs = set(
        await session.scalars(
            select(Membership.organization_id).where(Membership.user_id == user_id)
        )
    )
    if orgs - actor.admin.managed:
        raise conflict(
            "This person also works for another organization; remove them from yours instead.",
            "shared-account",
        )


async def set_status(
    session: AsyncSession, actor: Actor, org_id: str, user_id: str, status: str
) -> User:
    row = await membership(session, actor, org_id, user_id, for_change=True)
    await _only_ours(session, actor, user_id)
    user = row.user
    level = suspensions.level_of(actor.admin.user)
    if status == "active" and not suspensions.may_lift(user, level):
        raise Problem(
            403,
            "Not allowed",
            "TINpass operators suspended this account; only they can reactivate it.",
            "suspended-by-operator",
        )
    if (
        status == "suspended"
        and row.role == "administrator"
        and await _administrators(session, org_id) <= 1
    ):
        raise conflict("This is the organization's last administrator.", "last-administrator")
    before = user.status
    if status == "suspended":
        suspensions.suspend(user, actor.admin.user.id, level)
        await accounts.end_sessions(session, user.id, "suspended")
    else:
        suspensions.lift(user)
    event = "user.suspended" if status == "suspended" else "user.reactivated"
    after = (
        {"status": user.status, "level": user.suspension_level} if user.suspension_level else status
    )
    await record(session, actor, event, org_id, "user", user.id, before=before, after=after)
    return user


async def request_reset(
    session: AsyncSession, actor: Actor, settings: Settings, org_id: str, user_id: str
) -> ResetLink:
    """A single-use reset link for a member, audited; no administrator sees or sets a
    password. Mail it with `send_reset` after the commit."""
    row = await membership(session, actor, org_id, user_id)
    token = await action_tokens.issue(session, "password_reset", user_id, settings.reset_link_ttl)
    await record(session, actor, "password.reset_requested", org_id, "user", user_id)
    link = f"{settings.issuer.rstrip('/')}/reset-password?token={token}"
    return ResetLink(row.user.email, link, settings.reset_link_ttl // 60)


async def send_reset(mailer: Mailer, reset: ResetLink) -> None:
    await mailer.send(
        reset.address,
        "Reset your TINpass password",
        "Your organization's administrator asked TINpass to let you choose a new password.\n"
        f"Open this link within {reset.minutes} minutes (it works once):\n{reset.link}\n",
    )
