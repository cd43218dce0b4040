"""Audit events are part of the caller's transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
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
