"""Migration 0011 drops the table of issued access tokens; revoked ones that have not
expired move to the deny-list, and the way down brings the table back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio.to_thread
from alembic import command
from sqlalchemy import inspect, text

from identity.db import alembic_config, create_engine, migrate
from tests.support.databases import fresh_database

INSERT = (
    "INSERT INTO issued_access_tokens (jti, client_id, scope, expires_at, revoked_at)"
    " VALUES (:jti, 'c', 'openid', :expires, :revoked)"
)


async def test_revocations_survive_the_move_to_the_deny_list(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    later, earlier = now + timedelta(minutes=5), now - timedelta(minutes=5)
    rows = [
        {"jti": "revoked", "expires": later, "revoked": now},
        {"jti": "revoked-and-expired", "expires": earlier, "revoked": earlier},
        {"jti": "active", "expires": later, "revoked": None},
    ]
    async with fresh_database("id0011", tmp_path) as url:
        engine = create_engine(url)
        try:
            await anyio.to_thread.run_sync(migrate, url, "0010")
            async with engine.begin() as connection:
                await connection.execute(text(INSERT), rows)
            await anyio.to_thread.run_sync(migrate, url, "0011")
            async with engine.connect() as connection:
                denied = await connection.execute(text("SELECT kind, value FROM denied_tokens"))
                moved = [tuple(r) for r in denied]
                after = await connection.run_sync(lambda c: inspect(c).get_table_names())
            await anyio.to_thread.run_sync(command.downgrade, alembic_config(url), "0010")
            async with engine.connect() as connection:
                before = await connection.run_sync(lambda c: inspect(c).get_table_names())
        finally:
            await engine.dispose()
    assert moved == [("jti", "revoked")]
    assert "issued_access_tokens" not in after and "denied_tokens" in after
    assert "issued_access_tokens" in before and "denied_tokens" not in before
