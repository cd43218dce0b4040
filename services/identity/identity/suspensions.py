"""Suspensions carry who made them and at which level; only that level or above
lifts them.

Two levels: `organization` (an organization's administrator, admin API or console)
and `operator` (a TINpass operator: the operator API or `identity suspend`). An
operator lifts any suspension; an organization's administrator lifts only
organization-level ones. Suspending an already suspended account never lowers its
level (an administrator cannot turn an operator's suspension into their own).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from identity import accounts, audit
from identity.models import User

ORGANIZATION = "organization"
OPERATOR = "operator"
RANK = {ORGANIZATION: 1, OPERATOR: 2}


def level_of(user: User) -> str:
    """The level at which `user` acts: operators act as operators everywhere."""
    return OPERATOR if user.is_operator else ORGANIZATION


def made_at(user: User) -> str | None:
    """The level of the account's suspension (unknown origin counts as operator)."""
    if user.status != "suspended":
        return None
    return user.suspension_level if user.suspension_level in RANK else OPERATOR


def may_lift(user: User, level: str) -> bool:
    found = made_at(user)
    return found is None or RANK[found] <= RANK[level]


def liftable(level: str) -> frozenset[str]:
    """The suspension levels someone acting at `level` may lift."""
    return frozenset(found for found, rank in RANK.items() if rank <= RANK[level])


def suspend(user: User, by: str, level: str) -> None:
    current = made_at(user)
    if current is not None and RANK[current] >= RANK[level]:
        return
    user.status = "suspended"
    user.suspended_by, user.suspension_level = by, level
    user.suspended_at = datetime.now(UTC)


def lift(user: User) -> None:
    """Reactivate (the caller checked `may_lift`)."""
    user.status = "active"
    user.suspended_by = user.suspension_level = None
    user.suspended_at = None


async def by_operator(
    session: AsyncSession,
    user: User,
    suspending: bool,
    actor: tuple[str, str],
    request_ids: tuple[str | None, str | None] = (None, None),
) -> int:
    """Suspend (ending every session) or reactivate `user` as an operator; `actor` is
    (actor type, actor id). Returns how many sessions ended."""
    before = user.status
    ended: list[Any] = []
    if suspending:
        suspend(user, actor[1], OPERATOR)
        ended = await accounts.end_sessions(session, user.id, "suspended")
    elif user.status == "suspended":
        lift(user)
    await audit.record(
        session,
        "user.suspended" if suspending else "user.reactivated",
        actor_type=actor[0],
        actor_id=actor[1],
        target_type="user",
        target_id=user.id,
        details={
            "before": before,
            "after": {"status": user.status, "level": user.suspension_level},
            "sessions_ended": len(ended),
        },
        request_id=request_ids[0],
        source_address=request_ids[1],
    )
    return len(ended)
