"""The plan's access trail: every access to patient data, hash-chained (policy.audit).

Written in the request's transaction with one INSERT and no shared lock: an event
has no sequence number or hash until the sealer (policy.sealer, run by the
eligibility and claims apps) chains it behind the writers and signs the chain's
head into checkpoint files (policy.checkpoints). A request that changed nothing (an
answer, a claim read, a denial) has its events written by the group-commit writer
instead (`writer`, policy.audit_batch; see `provider_data.domain.access.record`).
`verify` checks chain and checkpoints and names the first bad event; `seal` chains
every committed event now.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from policy import sealing
from policy.audit import AccessRecord
from policy.trails import AuditTrail
from provider_data.platform.models import AccessChainHead, AccessEvent

SERVICE = "provider-data"
FIELDS = (
    "subject",
    "client_id",
    "org_id",
    "action",
    "member_id",
    "tax_id",
    "allowed",
    "reason",
    "request_id",
)


def content_of(row: Any, seq: int) -> dict[str, Any]:
    """What an event's hash covers (a row of access_events, ORM or Core)."""
    content: dict[str, Any] = {name: getattr(row, name) for name in FIELDS}
    stamp: datetime = row.occurred_at
    stamp = stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)
    content.update(allowed=bool(content["allowed"]), seq=seq)
    content["occurred_at"] = stamp.isoformat(timespec="microseconds")
    return content


TRAIL = sealing.Trail(
    SERVICE,
    cast(Table, AccessEvent.__table__),
    cast(Table, AccessChainHead.__table__),
    content_of,
)


async def record(session: AsyncSession, access: AccessRecord) -> None:
    await record_many(session, [access])


def rows(accesses: list[AccessRecord]) -> list[dict[str, Any]]:
    """The events' columns (not sealed yet), stamped now."""
    now = datetime.now(UTC)
    return [{"occurred_at": now, **access.content()} for access in accesses]


async def record_many(session: AsyncSession, accesses: list[AccessRecord]) -> None:
    """Insert the events (one statement, no lock); the sealer chains them after commit."""
    if not accesses:
        return
    await session.execute(insert(AccessEvent), rows(accesses))


# The trail's operations, written once for both services (policy.trails).
OPERATIONS = AuditTrail(TRAIL)
vault, sealer, writer = OPERATIONS.vault, OPERATIONS.sealer, OPERATIONS.writer
seal, status, verify = OPERATIONS.seal, OPERATIONS.status, OPERATIONS.verify
