"""Migration 0010 (audit sealing) keeps the events chained before it valid: the sealer
continues their chain, and verify passes across the two."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import anyio.to_thread
import pytest
from alembic import command
from sqlalchemy import insert, select, update

from identity import audit
from identity.db import alembic_config, create_engine, migrate, session_factory
from identity.models import AuditChainHead, AuditEvent
from policy.audit import GENESIS, chain_hash
from tests.support.databases import fresh_database


def chained_before(count: int) -> tuple[list[dict[str, object]], str]:
    """Events as writers chained them before 0010 (seq, prev_hash and hash at write)."""
    rows, prev = [], GENESIS
    for seq in range(1, count + 1):
        values: dict[str, object] = {
            "occurred_at": datetime(2026, 11, 1, 12, seq, tzinfo=UTC),
            "event": "organization.created",
            "actor_type": "operator",
            "actor_id": "cli",
            "organization_id": None,
            "target_type": "organization",
            "target_id": f"o{seq}",
            "outcome": "success",
            "reason": None,
            "details": {"name": f"Clinic {seq}"},
            "source_address": None,
            "request_id": None,
        }
        digest = chain_hash(prev, audit.event_content(SimpleNamespace(**values), seq))
        rows.append({**values, "seq": seq, "prev_hash": prev, "hash": digest})
        prev = digest
    return rows, prev


async def test_events_chained_before_stay_valid_and_the_chain_goes_on(tmp_path: Path) -> None:
    async with fresh_database("idseal", tmp_path) as url:
        engine = create_engine(url)
        sessions = session_factory(engine)
        try:
            await anyio.to_thread.run_sync(migrate, url, "0009")
            rows, last = chained_before(3)
            async with engine.begin() as connection:
                await connection.execute(insert(AuditEvent), rows)
                await connection.execute(update(AuditChainHead).values(seq=3, last_hash=last))
            await anyio.to_thread.run_sync(migrate, url)
            async with sessions() as session:
                before = await audit.verify(session)
                await audit.record(session, "test.noted", actor_type="operator", actor_id="x")
                await session.commit()
            with pytest.raises(RuntimeError, match="not sealed yet"):
                await anyio.to_thread.run_sync(command.downgrade, alembic_config(url), "0009")
            async with sessions() as session:
                head = await audit.seal(session)
                after = await audit.verify(session)
                seqs = list(await session.scalars(select(AuditEvent.seq).order_by(AuditEvent.id)))
            await anyio.to_thread.run_sync(command.downgrade, alembic_config(url), "0009")
            await anyio.to_thread.run_sync(migrate, url)
        finally:
            await engine.dispose()
    assert before.ok and before.checked == 3
    assert (head.count, head.seq, seqs) == (1, 4, [1, 2, 3, 4])
    assert after.ok and after.checked == 4
