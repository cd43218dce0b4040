"""Account rules: setting passwords under the policy, lockout, ending sessions.

Lockout (OWASP Authentication Cheat Sheet): after `lockout_threshold` consecutive
failures the account locks for `lockout_base_seconds`, doubling with every
further lockout up to `lockout_max_seconds`; time or an administrator unlocks
it. A successful login resets the failure count.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio.to_thread
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from identity import audit, backchannel_logout
from identity.models import (
    Membership,
    Organization,
    PasswordHistory,
    RefreshToken,
    SsoSession,
    User,
)
from identity.password_policy import (
    PolicyViolation,
    check_password,
    check_username,
    policy_for,
    previous_hashes,
)
from identity.security import hash_password_async
from identity.settings import Settings


def now() -> datetime:
    return datetime.now(UTC)


async def check_new_password(
    session: AsyncSession, settings: Settings, user: User | None, username: str, password: str
) -> None:
    """Raise PolicyViolation with every rule the password breaks for this user."""
    policy = await policy_for(session, user.id if user else None, settings.password_policy)
    history = await previous_hashes(session, user.id, policy.history) if user else []
    violations = await anyio.to_thread.run_sync(
        lambda: check_password(
            policy,
            password,
            username=username,
            mfa_enabled=bool(user and user.mfa_enabled),
            previous_hashes=history,
        )
    )
    if user is None:
        violations = check_username(policy, username) + violations
    if violations:
        raise PolicyViolation(violations)


async def set_password(
    session: AsyncSession, settings: Settings, user: User, password: str
) -> None:
    """Change a password after the policy allows it; keep it in the history."""
    await check_new_password(session, settings, user, user.username, password)
    user.password_hash = await hash_password_async(password)
    user.password_changed_at = now()
    session.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash))
    await session.flush()


def is_locked(user: User) -> bool:
    return user.locked_until is not None and user.locked_until > now()


def register_failure(user: User, settings: Settings) -> bool:
    """Count a failed password; True when this failure locks the account."""
    user.failed_logins += 1
    if user.failed_logins < settings.lockout_threshold:
        return False
    user.lockouts += 1
    seconds = min(
        settings.lockout_base_seconds * 2 ** (user.lockouts - 1), settings.lockout_max_seconds
    )
    user.locked_until = now() + timedelta(seconds=seconds)
    user.failed_logins = 0
    return True


def register_success(user: User) -> None:
    user.failed_logins = 0
    user.lockouts = 0
    user.locked_until = None
    user.last_login_at = now()


async def unlock(session: AsyncSession, user: User, actor_type: str, actor_id: str | None) -> None:
    user.locked_until, user.failed_logins, user.lockouts = None, 0, 0
    await audit.record(
        session,
        "account.unlocked",
        actor_type=actor_type,
        actor_id=actor_id,
        target_type="user",
        target_id=user.id,
    )


async def end_sessions(
    session: AsyncSession, user_id: str, reason: str, *, keep: str | None = None
) -> list[str]:
    """End the user's SSO sessions (all but `keep`), revoke their refresh tokens; return the ids."""
    stamp = now()
    query = select(SsoSession.id).where(
        SsoSession.user_id == user_id, SsoSession.ended_at.is_(None)
    )
    if keep:
        query = query.where(SsoSession.id != keep)
    ended = list(await session.scalars(query))
    if ended:
        await session.execute(
            update(SsoSession)
            .where(SsoSession.id.in_(ended))
            .values(ended_at=stamp, end_reason=reason)
        )
    revoke = update(RefreshToken).where(
        RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None)
    )
    if keep:
        revoke = revoke.where(
            (RefreshToken.sso_session_id != keep) | RefreshToken.sso_session_id.is_(None)
        )
    await session.execute(revoke.values(revoked_at=stamp))
    await backchannel_logout.queue(session, user_id, ended)
    return ended


async def memberships_of(session: AsyncSession, user_id: str) -> list[Membership]:
    """The user's memberships with their organizations (loaded), by organization name:
    what the landing page and the explanation of a refused sign-in read."""
    rows = await session.scalars(
        select(Membership)
        .join(Organization, Organization.id == Membership.organization_id)
        .where(Membership.user_id == user_id)
        .options(selectinload(Membership.organization), selectinload(Membership.tax_ids))
        .order_by(Organization.name)
    )
    return list(rows)
