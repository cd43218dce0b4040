"""Migration 0006 (access trail sealing) keeps the events chained before it valid."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import anyio.to_thread
from sqlalchemy import insert, update

from policy.audit import GENESIS, AccessRecord, chain_hash
from provider_data.platform import audit
from provider_data.platform.db import create_engine, migrate, session_factory
from provider_data.platform.models import AccessChainHead, AccessEvent
from tests.support.databases import fresh_database


async def test_events_chained_before_stay_valid_and_the_chain_goes_on(tmp_path: Path) -> None:
    rows, prev = [], GENESIS
    for seq in range(1, 4):
        values: dict[str, object] = {
            "occurred_at": datetime(2026, 11, 1, 12, seq, tzinfo=UTC),
            "subject": "u1",
            "client_id": "portal",
            "org_id": None,
            "action": "claims.read",
            "member_id": "M1000101",
            "tax_id": "123456789",
            "allowed": True,
            "reason": "tin_matched",
            "request_id": None,
        }
        digest = chain_hash(prev, audit.content_of(SimpleNamespace(**values), seq))
        rows.append({**values, "seq": seq, "prev_hash": prev, "hash": digest})
        prev = digest
    fields = {"subject", "client_id", "org_id", "action", "member_id", "tax_id", "allowed"}
    access = AccessRecord(
        **{k: v for k, v in rows[0].items() if k in fields},  # type: ignore[arg-type]
        reason="tin_matched",
        request_id=None,
    )
    async with fresh_database("planseal", tmp_path) as url:
        engine = create_engine(url)
        try:
            await anyio.to_thread.run_sync(migrate, url, "0005")
            async with engine.begin() as connection:
                await connection.execute(insert(AccessEvent), rows)
                await connection.execute(update(AccessChainHead).values(seq=3, last_hash=prev))
            await anyio.to_thread.run_sync(migrate, url)
            async with session_factory(engine)() as session:
                before = await audit.verify(session)
                await audit.record(session, access)
                await session.commit()
                head = await audit.seal(session)
                after = await audit.verify(session)
        finally:
            await engine.dispose()
    assert before.ok and before.checked == 3
    assert (head.count, head.seq) == (1, 4) and after.ok and after.checked == 4
