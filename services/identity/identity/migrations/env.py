"""Alembic environment: async engine, one version table per service."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from identity import idempotency_records  # noqa: F401  (its table joins Base.metadata)
from identity.db import VERSION_TABLE, create_engine
from identity.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=config.attributes.get("version_table", VERSION_TABLE),
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    if connection.dialect.name == "sqlite":
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"migration left broken references: {broken[:5]}")


async def _run_async() -> None:
    # SQLite: batch mode recreates tables; with foreign keys on, dropping the old
    # table would cascade-delete rows that reference it. Integrity is checked after.
    engine = create_engine(
        config.get_main_option("sqlalchemy.url") or "", sqlite_foreign_keys=False
    )
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported: run against a database")
asyncio.run(_run_async())
