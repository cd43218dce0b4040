"""The audit trail: append-only events named `resource.action`.

`record` adds the event to the caller's session and flushes; it never commits,
so an event is written in the same transaction as the change it records and a
change whose event cannot be written does not happen.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from identity.models import AuditEvent


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
    session.add(row)
    await session.flush()
    return row
