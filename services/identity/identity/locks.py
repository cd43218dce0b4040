"""Locks held until the transaction ends, so that check-then-write decisions that
race each other run one after the other, on PostgreSQL and on SQLite alike.

PostgreSQL runs transactions at READ COMMITTED: once a lock is granted, the
statements that follow see what the previous holder committed. SQLite allows one
writer at a time; its driver starts the transaction only at the first write, so
a lock here is a first (no-op) write that takes the database write lock, and
every read after it sees the previous writer's commit. Take a lock before the
reads it protects.
"""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from identity.models import Organization

KEY_ROTATION = 0x54494E4B  # "TINK": the advisory lock id of signing-key changes


async def _postgresql(session: AsyncSession) -> bool:
    connection = await session.connection()
    return connection.dialect.name == "postgresql"


# SQLite: a write that changes nothing still takes the database write lock.
SQLITE_WRITE_LOCK = {
    "signing_keys": text("UPDATE signing_keys SET rowid = rowid WHERE 0"),
    "organizations": text("UPDATE organizations SET rowid = rowid WHERE 0"),
    "admin_idempotency_keys": text("UPDATE admin_idempotency_keys SET rowid = rowid WHERE 0"),
}


async def _sqlite_write_lock(session: AsyncSession, table: str) -> None:
    await session.execute(SQLITE_WRITE_LOCK[table])


async def signing_keys(session: AsyncSession) -> None:
    """Signing-key changes (first keys, rotations) run one at a time."""
    if await _postgresql(session):
        await session.execute(select(func.pg_advisory_xact_lock(KEY_ROTATION)))
    else:
        await _sqlite_write_lock(session, "signing_keys")


async def organization(session: AsyncSession, org_id: str) -> None:
    """Decisions about one organization's members (the last administrator) run one
    at a time. PostgreSQL: its row FOR NO KEY UPDATE, so rows that merely refer to
    the organization can still be inserted meanwhile."""
    if await _postgresql(session):
        await session.execute(
            select(Organization.id).where(Organization.id == org_id).with_for_update(key_share=True)
        )
    else:
        await _sqlite_write_lock(session, "organizations")


async def try_key(session: AsyncSession, key: int) -> bool:
    """Hold `key` (a signed 64-bit number, e.g. from an idempotency key's digest) unless
    another transaction holds it: False then, at once. PostgreSQL: a transaction-level
    advisory lock, tried. SQLite: the write lock, waited for (one writer at a time, so
    whoever held it has committed), then always held."""
    if await _postgresql(session):
        return bool(await session.scalar(select(func.pg_try_advisory_xact_lock(key))))
    await _sqlite_write_lock(session, "admin_idempotency_keys")
    return True
