"""The plan's access trail: every access to patient data, hash-chained (policy.audit).

Written in the request's transaction with one INSERT and no shared lock: an event
has no sequence number or hash until the sealer (policy.sealer, run by the
eligibility and claims apps) chains it behind the writers and signs the chain's
head into checkpoint files (policy.checkpoints). A request that changed nothing (an
answer, a claim read, a denial) has its events written by the group-commit writer
instead (`writer`, policy.audit_batch; see `provider_data.access.record`). `verify` checks chain and
checkpoints and names the first bad event; `seal` chains every committed event now.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from policy import sealing
from policy.audit import AccessRecord, Verification
from policy.audit_batch import GroupCommitWriter
from policy.checkpoints import Vault, resolve_vault
from policy.sealer import Sealer
from provider_data.models import AccessChainHead, AccessEvent
from provider_data.settings import Settings

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


def writer(engine: AsyncEngine, settings: Settings) -> GroupCommitWriter | None:
    """The group-commit writer of read-only requests' events (None when
    PROVIDER_DATA_AUDIT_BATCH_SIZE is 0: every event in its request's own transaction)."""
    if settings.audit_batch_size == 0:
        return None
    return GroupCommitWriter(engine, TRAIL.events, max_batch=settings.audit_batch_size)


def vault(settings: Settings) -> Vault:
    """Where the trail's checkpoints are signed and kept (settings, or development's)."""
    return resolve_vault(
        SERVICE,
        settings.database_url,
        settings.audit_signing_key_file,
        settings.audit_checkpoint_dir,
    )


def sealer(engine: AsyncEngine, settings: Settings) -> Sealer:
    return Sealer(
        engine,
        TRAIL,
        interval=settings.audit_seal_interval,
        batch=settings.audit_seal_batch,
        vault=vault(settings),
        checkpoint_interval=settings.audit_checkpoint_interval,
    )


async def seal(session: AsyncSession, batch: int = 1000) -> sealing.Head:
    """Chain every event committed so far (commits each batch)."""
    return await sealing.seal_pending(session, TRAIL, batch)


async def status(session: AsyncSession) -> sealing.Status:
    return await sealing.status(session, TRAIL)


async def verify(
    session: AsyncSession, checkpoints: Vault | None = None, public_keys: Iterable[Path] = ()
) -> Verification:
    """The chain, and with a vault its signed checkpoints (CheckpointError if one of
    them is not genuine)."""
    signed = checkpoints.read(public_keys) if checkpoints is not None else []
    return await sealing.verify(session, TRAIL, signed)
