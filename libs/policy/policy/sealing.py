"""Sealing an audit trail behind its writers, and verifying it (one implementation for
every service).

Writers insert events with no sequence number and no hashes, in the transaction of
the change they record, and take no shared lock. Sealing chains committed events
afterwards: it reads the trail's head row (last seq, last hash), takes unsealed
events in insertion (id) order in a bounded batch, gives them the next sequence
numbers and their hashes (policy.audit.chain_hash), and moves the head with a
conditional UPDATE (`WHERE seq = <the seq it read>`). Two sealers racing cannot
fork the chain: the loser's UPDATE matches no row and its batch is rolled back.

On PostgreSQL an event with a lower id may commit after a higher one was sealed:
it is still unsealed, so a later batch seals it then, with a later seq. The seq,
not the id, orders the chain; no committed event is ever skipped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from policy.audit import ChainVerifier, Verification, chain_hash
from policy.checkpoints import Checkpoint

# Sealing lag (age of the oldest unsealed event) the sealer is built to stay under.
LAG_TARGET_SECONDS = 1.0


@dataclass(frozen=True)
class Trail:
    """A service's audit trail: its events table (id, seq, prev_hash, hash, occurred_at
    and content columns), its one-row head table (id 1: seq, last_hash) and the content
    the hash covers (`content(row, seq)`)."""

    service: str
    events: Table
    head: Table
    content: Callable[[Any, int], dict[str, Any]]

    @property
    def lock_key(self) -> int:
        """The PostgreSQL advisory lock key its sealers elect a leader with."""
        digest = hashlib.sha256(f"tinpass-audit-sealer:{self.service}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)


class LostRace(Exception):
    """Another sealer moved the head first: this batch must be rolled back."""


@dataclass(frozen=True)
class Head:
    count: int  # events sealed by this step
    seq: int
    hash: str
    oldest: datetime | None = None  # when the first event sealed by this step was recorded


Database = AsyncSession | AsyncConnection


async def head_of(db: Database, trail: Trail) -> tuple[int, str] | None:
    row = (
        await db.execute(
            select(trail.head.c.seq, trail.head.c.last_hash).where(trail.head.c.id == 1)
        )
    ).one_or_none()
    return (int(row.seq), str(row.last_hash)) if row else None


async def seal_batch(connection: AsyncConnection, trail: Trail, limit: int) -> Head:
    """Seal up to `limit` unsealed events in the caller's transaction (the caller
    commits); LostRace if another sealer moved the head since it was read."""
    head = await head_of(connection, trail)
    if head is None:
        raise LookupError(f"the {trail.service} audit trail has no head row")
    seq, last = head
    events = trail.events.c
    rows = (
        await connection.execute(
            select(trail.events).where(events.seq.is_(None)).order_by(events.id).limit(limit)
        )
    ).all()
    if not rows:
        return Head(0, seq, last)
    links, prev = [], last
    for offset, row in enumerate(rows, start=1):
        digest = chain_hash(prev, trail.content(row, seq + offset))
        links.append({"b_id": row.id, "b_seq": seq + offset, "b_prev": prev, "b_hash": digest})
        prev = digest
    moved = await connection.execute(
        update(trail.head)
        .where(trail.head.c.id == 1, trail.head.c.seq == seq)
        .values(seq=seq + len(rows), last_hash=prev)
    )
    if moved.rowcount != 1:
        raise LostRace
    await connection.execute(
        update(trail.events)
        .where(events.id == bindparam("b_id"))
        .values(seq=bindparam("b_seq"), prev_hash=bindparam("b_prev"), hash=bindparam("b_hash")),
        links,
    )
    return Head(len(rows), seq + len(rows), prev, _stamp(rows[0].occurred_at))


async def seal_pending(session: AsyncSession, trail: Trail, batch: int = 1000) -> Head:
    """Seal every event committed so far, one committed transaction per batch; a batch
    lost to a concurrent sealer is rolled back and tried again."""
    total = 0
    while True:
        try:
            step = await seal_batch(await session.connection(), trail, batch)
            await session.commit()
        except LostRace:
            await session.rollback()
            continue
        total += step.count
        if step.count < batch:
            return Head(total, step.seq, step.hash)


@dataclass(frozen=True)
class Status:
    service: str
    sealed_seq: int
    unsealed: int
    oldest_unsealed_age: float  # seconds; 0 when every event is sealed

    def as_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "sealed_seq": self.sealed_seq,
            "unsealed": self.unsealed,
            "lag_seconds": round(self.oldest_unsealed_age, 3),
            "lag_target_seconds": LAG_TARGET_SECONDS,
        }

    def describe(self) -> str:
        return (
            f"{self.service} audit trail: {self.sealed_seq} events sealed, "
            f"{self.unsealed} waiting (oldest {self.oldest_unsealed_age:.3f} s)"
        )


def _stamp(value: datetime | str | None) -> datetime | None:
    """A stored time as an aware datetime (SQLite may hand back text)."""
    if value is None:
        return None
    stamp = datetime.fromisoformat(value) if isinstance(value, str) else value
    return _aware(stamp)


def _aware(stamp: datetime) -> datetime:
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp


async def status(db: Database, trail: Trail) -> Status:
    """The sealing lag: how many committed events wait, and since when."""
    events = trail.events.c
    waiting = (
        await db.execute(
            select(func.count(), func.min(events.occurred_at)).where(events.seq.is_(None))
        )
    ).one()
    head = await head_of(db, trail)
    oldest = waiting[1]
    if isinstance(oldest, str):  # SQLite's MIN() loses the column's type
        oldest = datetime.fromisoformat(oldest)
    age = (datetime.now(UTC) - _aware(oldest)).total_seconds() if oldest else 0.0
    return Status(trail.service, head[0] if head else 0, int(waiting[0]), max(age, 0.0))


async def verify(
    db: Database, trail: Trail, checkpoints: Iterable[Checkpoint] = ()
) -> Verification:
    """Walk the chain up to its head and compare it with the signed checkpoints; the
    first problem names its event. Events not sealed yet are counted, not failed."""
    signed = sorted(checkpoints, key=lambda c: c.seq)
    by_seq: dict[int, list[Checkpoint]] = {}
    for checkpoint in signed:
        by_seq.setdefault(checkpoint.seq, []).append(checkpoint)
    # The head first: events sealed after it was read are beyond it and left out.
    head = await head_of(db, trail)
    events = trail.events.c
    query = select(trail.events).where(events.seq.is_not(None)).order_by(events.seq)
    if head is not None:
        query = query.where(events.seq <= head[0])
    verifier, anchor, matched = ChainVerifier(), 0, 0
    async for row in await db.stream(query):
        if not verifier.feed(row.seq, row.prev_hash, row.hash, trail.content(row, row.seq)):
            break
        for checkpoint in by_seq.get(row.seq, []):
            if checkpoint.hash != row.hash:
                return Verification(
                    False,
                    anchor,
                    anchor + 1,
                    f"events {anchor + 1} to {row.seq} were rewritten: event {row.seq}'s hash "
                    f"is not the one signed in checkpoint {checkpoint.filename}",
                    matched,
                )
            anchor, matched = row.seq, matched + 1
    result = verifier.finish(head[0] if head else None, head[1] if head else None)
    if not result.ok:
        return result
    beyond = [c for c in signed if c.seq > result.checked]
    if beyond:
        return Verification(
            False,
            result.checked,
            result.checked + 1,
            f"events {result.checked + 1} to {beyond[-1].seq} are missing: checkpoint "
            f"{beyond[0].filename} signed event {beyond[0].seq} (history truncated)",
            matched,
        )
    unsealed = await db.scalar(
        select(func.count()).select_from(trail.events).where(events.seq.is_(None))
    )
    return Verification(True, result.checked, checkpoints=matched, unsealed=int(unsealed or 0))
