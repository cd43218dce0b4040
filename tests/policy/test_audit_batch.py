"""The group-commit audit writer (policy.audit_batch) on a real trail (identity's
audit_events, made by its migrations) on the test database: events written together
in fewer commits, each durable when its caller's await returns, a failed flush
failing all of its callers and the next one working, and the sealer chaining them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import anyio.to_thread
import pytest
from sqlalchemy import Table, event, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from identity import audit
from identity.db import create_engine, migrate, session_factory
from identity.models import AuditEvent
from policy.audit_batch import AuditWriteFailed, GroupCommitWriter
from policy.dbpool import DatabasePool, closed
from policy.outages import is_outage
from tests.support.databases import db_kind, fresh_database
from tests.support.dbfaults import SHORT_TIMEOUTS, proxied

EVENTS = cast(Table, AuditEvent.__table__)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    async with fresh_database("batch", tmp_path) as url:
        await anyio.to_thread.run_sync(migrate, url)
        made = create_engine(url)
        try:
            yield made
        finally:
            await made.dispose()


@pytest.fixture
async def reader(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """A second engine on the same database, to look at what is committed."""
    url = engine.url.render_as_string(hide_password=False)
    other = create_engine(url, pool=DatabasePool(db_pool_size=2, db_max_overflow=0))
    try:
        yield other
    finally:
        await other.dispose()


def commits(engine: AsyncEngine) -> list[int]:
    counted: list[int] = []
    event.listen(engine.sync_engine, "commit", lambda _connection: counted.append(1))
    return counted


def row(actor: str, name: str | None = "token.issued") -> dict[str, Any]:
    return {
        "occurred_at": datetime.now(UTC),
        "event": name,
        "actor_type": "client",
        "actor_id": actor,
        "outcome": "success",
        "details": {"grant_type": "client_credentials"},
    }


async def present(reader: AsyncEngine, *actors: str) -> int:
    async with reader.connect() as connection:
        found = await connection.scalar(
            select(func.count()).select_from(EVENTS).where(EVENTS.c.actor_id.in_(actors))
        )
    return int(found or 0)


async def test_concurrent_events_share_commits_and_are_durable_when_awaited(
    engine: AsyncEngine, reader: AsyncEngine
) -> None:
    writer = GroupCommitWriter(engine, EVENTS)
    counted = commits(engine)
    await writer.start()
    seen: list[int] = []

    async def issue(n: int) -> None:
        await writer.write([row(f"client-{n}")])
        seen.append(await present(reader, f"client-{n}"))  # committed, for another connection

    try:
        await asyncio.gather(*(issue(n) for n in range(60)))
    finally:
        await writer.stop()
    assert seen == [1] * 60
    assert writer.events == 60 and writer.failed_flushes == 0
    assert len(counted) == writer.flushes < 60 / 4, (len(counted), writer.flushes)


async def test_one_callers_events_go_in_one_flush_and_batches_are_bounded(
    engine: AsyncEngine, reader: AsyncEngine
) -> None:
    writer = GroupCommitWriter(engine, EVENTS, max_batch=5, max_in_flight=1)
    await writer.start()
    try:
        await asyncio.gather(*(writer.write([row(f"one-{n}")]) for n in range(12)))
        assert writer.flushes == 3  # 5 + 5 + 2: queued together, taken at most 5 at a time
        await writer.write([row(f"many-{n}") for n in range(8)])  # larger than a batch: alone
        assert writer.flushes == 4
    finally:
        await writer.stop()
    assert await present(reader, *(f"one-{n}" for n in range(12))) == 12
    assert await present(reader, *(f"many-{n}" for n in range(8))) == 8


async def test_a_failed_flush_fails_every_caller_and_the_next_flush_works(
    engine: AsyncEngine, reader: AsyncEngine
) -> None:
    writer = GroupCommitWriter(engine, EVENTS, max_in_flight=1)
    await writer.start()
    try:
        # Queued together, so one flush: the row without an event name breaks all of it.
        outcomes = await asyncio.gather(
            writer.write([row("good-1")]),
            writer.write([row("bad", name=None)]),
            writer.write([row("good-2")]),
            return_exceptions=True,
        )
        assert all(isinstance(o, AuditWriteFailed) for o in outcomes), outcomes
        assert all(isinstance(o.__cause__, DBAPIError) for o in outcomes)  # type: ignore[union-attr]
        assert await present(reader, "good-1", "good-2", "bad") == 0  # nothing of it written
        assert writer.failed_flushes == 1
        await writer.write([row("after")])
    finally:
        await writer.stop()
    assert await present(reader, "after") == 1


@pytest.mark.skipif(db_kind() != "postgresql", reason="terminating a connection: PostgreSQL")
async def test_a_connection_closed_while_idle_is_replaced_before_a_flush(
    engine: AsyncEngine, reader: AsyncEngine
) -> None:
    writer = GroupCommitWriter(engine, EVENTS)
    await writer.start()
    try:
        await writer.write([row("before")])
        async with reader.connect() as connection:  # the writer's idle connection is cut
            await connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        idle = writer._idle[0]
        for _ in range(500):  # the server's goodbye reaches this process
            if closed(idle):
                break
            await asyncio.sleep(0.01)
        assert closed(idle)
        await writer.write([row("after")])  # not a failure: a fresh connection
        assert writer.failed_flushes == 0
    finally:
        await writer.stop()
    assert await present(reader, "before", "after") == 2


@pytest.mark.skipif(db_kind() != "postgresql", reason="a network fault between PostgreSQL and us")
async def test_a_hanging_database_fails_the_flush_in_bounded_time_then_recovers(
    tmp_path: Path, reader: AsyncEngine
) -> None:
    url = reader.url.render_as_string(hide_password=False)
    with proxied(url) as (proxy, via):
        engine = create_engine(via, pool=DatabasePool(**SHORT_TIMEOUTS))
        writer = GroupCommitWriter(engine, EVENTS)
        await writer.start()
        try:
            await writer.write([row("before")])
            proxy.mode = "blackhole"
            with pytest.raises(AuditWriteFailed) as failed:  # within the statement timeout
                await asyncio.wait_for(writer.write([row("lost")]), 5)
            assert is_outage(failed.value)
            proxy.cut()
            proxy.mode = "refuse"
            with pytest.raises(AuditWriteFailed):
                await asyncio.wait_for(writer.write([row("refused")]), 5)
            proxy.mode = "pass"
            await writer.write([row("after")])
        finally:
            await asyncio.wait_for(writer.stop(), 5)
            await engine.dispose()
    assert await present(reader, "before", "after") == 2
    assert await present(reader, "lost", "refused") == 0


async def test_stop_writes_what_is_queued_and_refuses_more(
    engine: AsyncEngine, reader: AsyncEngine
) -> None:
    writer = GroupCommitWriter(engine, EVENTS)
    await writer.start()
    pending = [asyncio.create_task(writer.write([row(f"late-{n}")])) for n in range(10)]
    await asyncio.sleep(0)  # queued, not yet written
    await writer.stop()
    await asyncio.gather(*pending)
    assert await present(reader, *(f"late-{n}" for n in range(10))) == 10
    with pytest.raises(RuntimeError):
        await writer.write([row("too-late")])


async def test_the_sealer_chains_batched_events_with_the_others(engine: AsyncEngine) -> None:
    writer = GroupCommitWriter(engine, EVENTS)
    sessions = session_factory(engine)
    await writer.start()

    async def in_transaction(n: int) -> None:
        async with sessions() as session:
            await audit.record(session, "client.updated", actor_type="user", actor_id=f"u{n}")
            await session.commit()

    try:
        await asyncio.gather(
            *(writer.write([row(f"batched-{n}")]) for n in range(40)),
            *(in_transaction(n) for n in range(10)),
        )
        async with sessions() as session:
            await audit.seal(session, batch=7)
        await asyncio.gather(*(writer.write([row(f"later-{n}")]) for n in range(5)))
        async with sessions() as session:
            head = await audit.seal(session)
            result = await audit.verify(session)
    finally:
        await writer.stop()
    assert (head.seq, result.ok, result.checked, result.unsealed) == (55, True, 55, 0)
    async with engine.connect() as connection:
        seqs = (await connection.scalars(select(EVENTS.c.seq).order_by(EVENTS.c.id))).all()
    assert sorted(seqs) == list(range(1, 56))
