"""The identity schema is made by its migrations only, and they match the models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio.to_thread
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from identity import idempotency_records  # noqa: F401  (its table joins Base.metadata)
from identity.db import VERSION_TABLE, alembic_config, create_engine, migrate
from identity.models import Base
from tests.support.databases import fresh_database


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return list(compare_metadata(context, Base.metadata))


async def test_migrations_match_the_models_and_step_down_and_up(tmp_path: Path) -> None:
    async with fresh_database("idschema", tmp_path) as url:
        engine = create_engine(url)
        try:
            await anyio.to_thread.run_sync(migrate, url, "0004")
            async with engine.begin() as connection:
                for statement in FIXTURE:
                    await connection.execute(text(statement))
            await anyio.to_thread.run_sync(migrate, url)
            async with engine.connect() as connection:
                assert await connection.run_sync(_differences) == []
                upgraded = (await connection.execute(text(GRANTS))).all()
            await anyio.to_thread.run_sync(command.downgrade, alembic_config(url), "0004")
            await anyio.to_thread.run_sync(migrate, url)
            async with engine.connect() as connection:
                assert await connection.run_sync(_differences) == []
                again = (await connection.execute(text(GRANTS))).all()
                version = (await connection.execute(text(f"SELECT * FROM {VERSION_TABLE}"))).all()
        finally:
            await engine.dispose()
    assert [tuple(r) for r in upgraded] == [("u1", "123456789", "active")]
    assert [tuple(r) for r in again] == [("u1", "123456789", "active")], "no grant lost"
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert [tuple(v) for v in version] == [(head,)]


GRANTS = (
    "SELECT m.user_id, t.tin, t.status FROM membership_tax_ids g"
    " JOIN memberships m ON m.id = g.membership_id JOIN tax_ids t ON t.id = g.tax_id_id"
)
FIXTURE = [
    "INSERT INTO organizations (id, name, status, mfa_required, created_at)"
    " VALUES ('o1', 'Org', 'active', false, CURRENT_TIMESTAMP)",
    "INSERT INTO tax_ids (id, organization_id, tin, label, created_at)"
    " VALUES ('t1', 'o1', '123456789', '', CURRENT_TIMESTAMP)",
    "INSERT INTO users (id, username, username_normalized, email, email_normalized,"
    " given_name, family_name, status, created_at, failed_logins, lockouts, is_operator)"
    " VALUES ('u1', 'u', 'u', 'u@example.org', 'u@example.org', '', '', 'active',"
    " CURRENT_TIMESTAMP, 0, 0, false)",
    "INSERT INTO memberships (id, user_id, organization_id, role, plan_roles, created_at)"
    " VALUES ('m1', 'u1', 'o1', 'subscriber', '[]', CURRENT_TIMESTAMP)",
    "INSERT INTO membership_tax_ids (membership_id, tax_id_id) VALUES ('m1', 't1')",
]
