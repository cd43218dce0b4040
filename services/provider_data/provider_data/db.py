"""Database engine, sessions and Alembic migrations for the plan's data.

Alembic is the only way the schema is made (`migrate`); the version table is the
service's own, so the plan's tables can share a PostgreSQL database. PostgreSQL
engines are pooled as `policy.dbpool` says (PROVIDER_DATA_DB_POOL_SIZE and the others).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from policy.dbpool import DatabasePool

VERSION_TABLE = "provider_data_alembic_version"


def _prepare_sqlite_folder(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database or "").parent.mkdir(parents=True, exist_ok=True)


def create_engine(
    url: str, *, pool: DatabasePool | None = None, sqlite_foreign_keys: bool = True
) -> AsyncEngine:
    """SQLite gets foreign keys on, except for migrations: batch mode recreates tables,
    and dropping the old one with foreign keys on would cascade deletes. A server
    database gets the `pool` settings (their defaults when none are given)."""
    _prepare_sqlite_folder(url)
    if make_url(url).get_backend_name() != "sqlite":
        return create_async_engine(url, **(pool or DatabasePool()).engine_options())
    engine = create_async_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA foreign_keys={'ON' if sqlite_foreign_keys else 'OFF'}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def migrate(url: str, revision: str = "head") -> None:
    """Bring the database at `url` to `revision` (synchronous; uses its own loop)."""
    _prepare_sqlite_folder(url)
    config = Config()
    config.set_main_option("script_location", "provider_data:migrations")
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, revision)
