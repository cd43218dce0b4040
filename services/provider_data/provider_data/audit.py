"""The plan's access trail: every access to patient data, hash-chained (policy.audit).

Written in the request's transaction; writers take the next sequence number by
an UPDATE of the chain-head row, held until commit, so the chain never forks.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from policy.audit import AccessRecord, ChainVerifier, Verification, chain_hash
from provider_data.models import AccessChainHead, AccessEvent

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


def content_of(row: AccessEvent) -> dict[str, Any]:
    content: dict[str, Any] = {name: getattr(row, name) for name in FIELDS}
    content.update(
        seq=row.seq, occurred_at=row.occurred_at.astimezone(UTC).isoformat(timespec="microseconds")
    )
    return content


async def record(session: AsyncSession, access: AccessRecord) -> AccessEvent:
    result = await session.execute(
        update(AccessChainHead)
        .where(AccessChainHead.id == 1)
        .values(seq=AccessChainHead.seq + 1)
        .returning(AccessChainHead.seq, AccessChainHead.last_hash)
        .execution_options(synchronize_session=False)
    )
    seq, prev_hash = result.one()
    row = AccessEvent(
        occurred_at=datetime.now(UTC), seq=int(seq), prev_hash=str(prev_hash), **access.content()
    )
    row.hash = chain_hash(row.prev_hash, content_of(row))
    await session.execute(
        update(AccessChainHead)
        .where(AccessChainHead.id == 1)
        .values(last_hash=row.hash)
        .execution_options(synchronize_session=False)
    )
    session.add(row)
    await session.flush()
    return row


async def verify(session: AsyncSession) -> Verification:
    verifier = ChainVerifier()
    async for row in await session.stream_scalars(select(AccessEvent).order_by(AccessEvent.seq)):
        if not verifier.feed(row.seq, row.prev_hash, row.hash, content_of(row)):
            break
    head = await session.get(AccessChainHead, 1)
    return verifier.finish(head.seq if head else None, head.last_hash if head else None)
