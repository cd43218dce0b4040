"""The audit trail: append-only events named `resource.action`, hash-chained.

`record` adds the event to the caller's session and flushes; it never commits,
so an event is written in the same transaction as the change it records and a
change whose event cannot be written does not happen.

Each event carries a sequence number, the previous event's hash and a SHA-256
hash over its own canonical content and that previous hash. Writers take the
next sequence number with an UPDATE of the single chain-head row, which both
PostgreSQL (row lock) and SQLite (write lock) hold until commit, so the chain
never forks. `verify` walks the chain and names the first altered, removed or
reordered event.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from identity.models import AuditChainHead, AuditEvent
from policy import csvsafe
from policy.audit import GENESIS, ChainVerifier, Verification, chain_hash

__all__ = ["GENESIS", "Verification", "export", "record", "verify"]

FIELDS = (
    "event",
    "actor_type",
    "actor_id",
    "organization_id",
    "target_type",
    "target_id",
    "outcome",
    "reason",
    "source_address",
    "request_id",
)
EXPORT_FIELDS = ("seq", "occurred_at", *FIELDS, "details", "prev_hash", "hash")


def event_content(row: AuditEvent, seq: int) -> dict[str, Any]:
    content: dict[str, Any] = {name: getattr(row, name) for name in FIELDS}
    content.update(
        seq=seq,
        occurred_at=row.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        details=row.details or {},
    )
    return content


def event_hash(row: AuditEvent, seq: int, prev_hash: str) -> str:
    return chain_hash(prev_hash, event_content(row, seq))


async def record(
    session: AsyncSession,
    event: str,
    *,
    actor_type: str,
    actor_id: str | None,
    organization_id: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    outcome: str = "success",
    reason: str | None = None,
    details: dict[str, Any] | None = None,
    source_address: str | None = None,
    request_id: str | None = None,
) -> AuditEvent:
    if "." not in event:
        raise ValueError(f"event names are resource.action, not {event!r}")
    row = AuditEvent(
        occurred_at=datetime.now(UTC),
        event=event,
        actor_type=actor_type,
        actor_id=actor_id,
        organization_id=organization_id,
        target_type=target_type,
        target_id=target_id,
        outcome=outcome,
        reason=reason,
        details=details or {},
        source_address=source_address,
        request_id=request_id,
    )
    seq, prev_hash = await _next_link(session)
    row.seq, row.prev_hash = seq, prev_hash
    row.hash = event_hash(row, seq, prev_hash)
    await session.execute(
        update(AuditChainHead)
        .where(AuditChainHead.id == 1)
        .values(last_hash=row.hash)
        .execution_options(synchronize_session=False)
    )
    session.add(row)
    await session.flush()
    return row


async def _next_link(session: AsyncSession) -> tuple[int, str]:
    """Take the next sequence number; the UPDATE holds the chain head until commit."""
    result = await session.execute(
        update(AuditChainHead)
        .where(AuditChainHead.id == 1)
        .values(seq=AuditChainHead.seq + 1)
        .returning(AuditChainHead.seq, AuditChainHead.last_hash)
        .execution_options(synchronize_session=False)
    )
    seq, last_hash = result.one()
    return int(seq), str(last_hash)


async def verify(session: AsyncSession) -> Verification:
    verifier = ChainVerifier()
    rows = await session.stream_scalars(select(AuditEvent).order_by(AuditEvent.seq))
    async for row in rows:
        if not verifier.feed(row.seq, row.prev_hash, row.hash, event_content(row, row.seq)):
            break
    head = await session.get(AuditChainHead, 1)
    return verifier.finish(head.seq if head else None, head.last_hash if head else None)


async def export(
    session: AsyncSession, start: datetime, end: datetime, fmt: str
) -> AsyncIterator[str]:
    """Events with start <= occurred_at < end, as JSON lines or CSV (with their hashes;
    CSV cells that would start a spreadsheet formula get a leading quote, policy.csvsafe)."""
    query = (
        select(AuditEvent)
        .where(AuditEvent.occurred_at >= start, AuditEvent.occurred_at < end)
        .order_by(AuditEvent.seq)
    )
    if fmt == "csv":
        yield ",".join(EXPORT_FIELDS) + "\r\n"
    async for row in await session.stream_scalars(query):
        values = _exported(row)
        if fmt == "jsonl":
            yield json.dumps(values, sort_keys=True, ensure_ascii=False) + "\n"
        else:
            buffer = io.StringIO()
            csvsafe.writer(buffer).writerow(
                json.dumps(values[name], sort_keys=True) if name == "details" else values[name]
                for name in EXPORT_FIELDS
            )
            yield buffer.getvalue()


def _exported(row: AuditEvent) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(row, name) for name in EXPORT_FIELDS}
    values["occurred_at"] = row.occurred_at.astimezone(UTC).isoformat(timespec="microseconds")
    return values
