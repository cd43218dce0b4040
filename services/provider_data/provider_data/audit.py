"""The plan's access trail: every access to patient data, hash-chained (policy.audit).

Written in the request's transaction; writers take the next sequence number by
an UPDATE of the chain-head row, held until commit, so the chain never forks.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
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


async def record(session: AsyncSession, access: AccessRecord) -> None:
    await record_many(session, [access])


async def record_many(session: AsyncSession, accesses: list[AccessRecord]) -> None:
    """Append events to the chain in order: the head row gives their sequence numbers
    (and stays locked until commit), each hash follows the one before."""
    if not accesses:
        return
    result = await session.execute(
        update(AccessChainHead)
        .where(AccessChainHead.id == 1)
        .values(seq=AccessChainHead.seq + len(accesses))
        .returning(AccessChainHead.seq, AccessChainHead.last_hash)
        .execution_options(synchronize_session=False)
    )
    last_seq, prev_hash = result.one()
    now, prev, rows = datetime.now(UTC), str(prev_hash), []
    for offset, access in enumerate(accesses):
        row = AccessEvent(
            occurred_at=now,
            seq=int(last_seq) - len(accesses) + 1 + offset,
            prev_hash=prev,
            **access.content(),
        )
        row.hash = prev = chain_hash(prev, content_of(row))
        rows.append(
            {
                "occurred_at": now,
                "seq": row.seq,
                "prev_hash": row.prev_hash,
                "hash": row.hash,
                **access.content(),
            }
        )
    await session.execute(
        update(AccessChainHead)
        .where(AccessChainHead.id == 1)
        .values(last_hash=prev)
        .execution_options(synchronize_session=False)
    )
    await session.execute(insert(AccessEvent), rows)


async def verify(session: AsyncSession) -> Verification:
    verifier = ChainVerifier()
    async for row in await session.stream_scalars(select(AccessEvent).order_by(AccessEvent.seq)):
        if not verifier.feed(row.seq, row.prev_hash, row.hash, content_of(row)):
            break
    head = await session.get(AccessChainHead, 1)
    return verifier.finish(head.seq if head else None, head.last_hash if head else None)
