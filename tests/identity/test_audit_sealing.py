"""The audit trail is sealed behind the writers: writers take no shared lock, the
sealer chains committed events in a stable order, in batches, and racing sealers
still make one chain (policy.sealing, policy.sealer, on identity's trail)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from identity import audit
from identity.models import AuditEvent
from policy import sealing
from policy.sealer import Sealer, stop
from tests.identity.harness import running_identity
from tests.support.databases import db_kind

postgresql_only = pytest.mark.skipif(
    db_kind() != "postgresql", reason="concurrent open writers need PostgreSQL"
)


async def note(session: AsyncSession, n: int) -> None:
    await audit.record(session, "test.noted", actor_type="operator", actor_id=f"op-{n}")


async def write(sessions: async_sessionmaker[AsyncSession], n: int) -> None:
    async with sessions() as session:
        await note(session, n)
        await session.commit()


async def chain(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[int, int | None]]:
    async with sessions() as session:
        rows = await session.execute(select(AuditEvent.id, AuditEvent.seq).order_by(AuditEvent.id))
        return [(r.id, r.seq) for r in rows]


async def test_writers_leave_events_unsealed_and_sealing_chains_them_in_batches(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    for n in range(5):
        await write(sessions, n)
    assert [seq for _, seq in await chain(sessions)] == [None] * 5
    async with sessions() as session:
        before = await audit.status(session)
        first = await sealing.seal_batch(await session.connection(), audit.TRAIL, 2)
        await session.commit()
        middle = await audit.status(session)
        rest = await audit.seal(session, batch=2)
        after = await audit.status(session)
        result = await audit.verify(session)
    assert (before.unsealed, before.sealed_seq, before.oldest_unsealed_age > 0) == (5, 0, True)
    assert (first.count, first.seq, middle.unsealed, middle.sealed_seq) == (2, 2, 3, 2)
    assert (rest.count, rest.seq, after.unsealed, after.oldest_unsealed_age) == (3, 5, 0, 0.0)
    assert [seq for _, seq in await chain(sessions)] == [1, 2, 3, 4, 5], "id order"
    assert result.ok and result.checked == 5 and result.unsealed == 0


async def test_unsealed_events_are_reported_not_failed(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await write(sessions, 1)
    async with sessions() as session:
        await audit.seal(session)
    await write(sessions, 2)
    async with sessions() as session:
        result = await audit.verify(session)
    assert (result.ok, result.checked, result.unsealed) == (True, 1, 1)
    assert "1 events not sealed yet" in result.describe()


async def test_racing_sealers_make_one_chain(sessions: async_sessionmaker[AsyncSession]) -> None:
    async def sealer() -> None:
        for _ in range(6):
            async with sessions() as session:
                await audit.seal(session, batch=3)
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as group:
        for n in range(24):
            group.start_soon(write, sessions, n)
        for _ in range(3):
            group.start_soon(sealer)
    async with sessions() as session:
        await audit.seal(session)
        result = await audit.verify(session)
    assert sorted(seq or 0 for _, seq in await chain(sessions)) == list(range(1, 25))
    assert result.ok and result.checked == 24


@postgresql_only
async def test_two_writers_insert_events_while_the_other_is_still_open(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """No shared lock: the second transaction writes and commits its event while the
    first one, which wrote before it, is still open."""
    async with sessions() as first, sessions() as second:
        await note(first, 1)
        with anyio.fail_after(5):
            await note(second, 2)
            await second.commit()
        await first.commit()
    assert len(await chain(sessions)) == 2


@postgresql_only
async def test_many_transactions_hold_their_events_open_at_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Eight writers each insert an event and keep their transaction open until all
    eight have written: with a shared lock the second would wait forever."""
    written = anyio.Event()
    count = 0

    async def writer(n: int) -> None:
        nonlocal count
        async with sessions() as session:
            await note(session, n)
            count += 1
            if count == 8:
                written.set()
            await written.wait()
            await session.commit()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            for n in range(8):
                group.start_soon(writer, n)
    async with sessions() as session:
        assert (await audit.seal(session)).count == 8
        assert (await audit.verify(session)).checked == 8


@postgresql_only
async def test_a_lower_id_committing_after_a_sealed_higher_one_is_sealed_later(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as late:
        await note(late, 1)  # takes the lower id, commits last
        await write(sessions, 2)
        async with sessions() as session:
            assert (await audit.seal(session)).count == 1
        await late.commit()
    async with sessions() as session:
        assert (await audit.seal(session)).count == 1
        result = await audit.verify(session)
    (low, low_seq), (high, high_seq) = await chain(sessions)
    assert low < high and (high_seq, low_seq) == (1, 2), "seq orders the chain, not the id"
    assert result.ok and result.checked == 2


async def sealed_all(sessions: async_sessionmaker[AsyncSession], count: int) -> None:
    with anyio.fail_after(15):
        while True:
            async with sessions() as session:
                state = await audit.status(session)
            if state.sealed_seq >= count:
                return
            await anyio.sleep(0.05)


def engine_of(sessions: async_sessionmaker[AsyncSession]) -> AsyncEngine:
    bind = sessions.kw["bind"]
    assert isinstance(bind, AsyncEngine)
    return bind


async def test_background_sealers_elect_one_leader_and_seal_behind_the_writers(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    engine = engine_of(sessions)
    sealers = [Sealer(engine, audit.TRAIL, interval=0.02, batch=4) for _ in range(2)]
    tasks = [asyncio.create_task(s.run()) for s in sealers]
    try:
        for n in range(20):
            await write(sessions, n)
        await sealed_all(sessions, 20)
        leaders = [s.leader for s in sealers]
    finally:
        for sealer, task in zip(sealers, tasks, strict=True):
            await stop(sealer, task)
    if db_kind() == "postgresql":
        assert sorted(leaders) == [False, True], "one leader on PostgreSQL"
        assert sorted(s.sealed for s in sealers) == [0, 20]
    assert sum(s.sealed for s in sealers) == 20
    async with sessions() as session:
        assert (await audit.verify(session)).ok


@postgresql_only
async def test_a_leader_that_loses_its_connection_hands_over_and_nothing_forks(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    engine = engine_of(sessions)
    sealers = [Sealer(engine, audit.TRAIL, interval=0.02, batch=4) for _ in range(2)]
    tasks = [asyncio.create_task(s.run()) for s in sealers]
    try:
        await write(sessions, 0)
        await sealed_all(sessions, 1)
        leader = next(s for s in sealers if s.leader)
        async with engine.connect() as connection:
            await connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks"
                    " WHERE locktype = 'advisory' AND granted AND objid = :low"
                ),
                {"low": audit.TRAIL.lock_key & 0xFFFFFFFF},
            )
        for n in range(1, 11):
            await write(sessions, n)
        await sealed_all(sessions, 11)
        with anyio.fail_after(5):
            while True:
                if sum(s.leader for s in sealers) == 1:
                    break
                await anyio.sleep(0.05)
    finally:
        for sealer, task in zip(sealers, tasks, strict=True):
            await stop(sealer, task)
    assert leader.sealed >= 1 and sum(s.sealed for s in sealers) == 11
    async with sessions() as session:
        result = await audit.verify(session)
        count = await session.scalar(select(func.count()).select_from(AuditEvent))
    assert result.ok and result.checked == count == 11


async def test_the_app_seals_in_the_background_and_reports_the_lag(tmp_path: Path) -> None:
    async with (
        running_identity(tmp_path, audit_seal_interval=0.05) as identity,
        identity.client() as client,
    ):
        with anyio.fail_after(10):
            while True:
                state = (await client.get("/status/audit")).json()
                if state["unsealed"] == 0:
                    break
                await anyio.sleep(0.05)
    assert state["service"] == "identity" and state["sealed_seq"] > 0, "the seed's events"
    assert (state["lag_seconds"], state["lag_target_seconds"]) == (0, 1.0)
    assert state["sealer"]["leader"] is True and state["sealer"]["sealed_here"] > 0
