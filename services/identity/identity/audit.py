"""The audit trail: append-only events named `resource.action`, hash-chained.

`record` adds the event to the caller's session and flushes; it never commits,
so an event is written in the same transaction as the change it records and a
change whose event cannot be written does not happen. Writing takes no shared
lock: the event has no sequence number or hash yet.

The sealer (policy.sealer, started with the app) chains committed events behind
the writers: each gets the next sequence number, the previous event's hash and a
SHA-256 hash over its own canonical content and that previous hash, and the
chain's head is signed into checkpoint files now and then (policy.checkpoints).
`verify` walks the chain, compares it with the checkpoints and names the first
altered, removed or reordered event; `seal` chains every committed event now.

Events of a request that changed nothing (a client_credentials token: see
`identity.web.protocol.commit`) go through the group-commit writer instead
(`writer`, policy.audit_batch): written with other requests' events in one INSERT
and one COMMIT, durable before the response is sent.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from identity.models import AuditChainHead, AuditEvent
from policy import csvsafe, sealing
from policy.audit import GENESIS, Verification
from policy.trails import AuditTrail

__all__ = ["GENESIS", "Verification", "event_row", "export", "record", "seal", "status", "verify"]

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


def event_content(row: Any, seq: int) -> dict[str, Any]:
    """What an event's hash covers (a row of audit_events, ORM or Core)."""
    content: dict[str, Any] = {name: getattr(row, name) for name in FIELDS}
    content.update(
        seq=seq,
        occurred_at=row.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        details=row.details or {},
    )
    return content


TRAIL = sealing.Trail(
    "identity",
    cast(Table, AuditEvent.__table__),
    cast(Table, AuditChainHead.__table__),
    event_content,
)


def event_row(
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
) -> dict[str, Any]:
    """An event's columns (not sealed yet), stamped now."""
    if "." not in event:
        raise ValueError(f"event names are resource.action, not {event!r}")
    return {
        "occurred_at": datetime.now(UTC),
        "event": event,
        "actor_type": actor_type,
        "actor_id": actor_id,
        "organization_id": organization_id,
        "target_type": target_type,
        "target_id": target_id,
        "outcome": outcome,
        "reason": reason,
        "details": details or {},
        "source_address": source_address,
        "request_id": request_id,
    }


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
    """Add the event to the caller's transaction (flushed, not committed)."""
    fields = event_row(
        event,
        actor_type=actor_type,
        actor_id=actor_id,
        organization_id=organization_id,
        target_type=target_type,
        target_id=target_id,
        outcome=outcome,
        reason=reason,
        details=details,
        source_address=source_address,
        request_id=request_id,
    )
    row = AuditEvent(**fields)
    session.add(row)
    await session.flush()
    return row


# The trail's operations, written once for both services (policy.trails).
OPERATIONS = AuditTrail(TRAIL)
vault, sealer, writer = OPERATIONS.vault, OPERATIONS.sealer, OPERATIONS.writer
seal, status, verify = OPERATIONS.seal, OPERATIONS.status, OPERATIONS.verify


async def export(
    session: AsyncSession, start: datetime, end: datetime, fmt: str
) -> AsyncIterator[str]:
    """Events with start <= occurred_at < end, as JSON lines or CSV (with their hashes;
    CSV cells that would start a spreadsheet formula get a leading quote, policy.csvsafe).
    Sealed events come in chain order, then those not sealed yet (empty seq and hashes)."""
    query = (
        select(AuditEvent)
        .where(AuditEvent.occurred_at >= start, AuditEvent.occurred_at < end)
        .order_by(AuditEvent.seq.is_(None), AuditEvent.seq, AuditEvent.id)
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
