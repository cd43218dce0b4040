"""Database engine, sessions and Alembic migrations for the identity service.

Alembic is the only way the schema is made (`migrate`); the same code runs on
SQLite (aiosqlite) and PostgreSQL (asyncpg). PostgreSQL engines are pooled as
`policy.dbpool` says (IDENTITY_DB_POOL_SIZE and the others).
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

VERSION_TABLE = "identity_alembic_version"


def _prepare_sqlite_folder(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database or "").parent.mkdir(parents=True, exist_ok=True)


def create_engine(
    url: str,
    *,
    pool: DatabasePool | None = None,
    sqlite_foreign_keys: bool = True,
    **kwargs: Any,
) -> AsyncEngine:
    """An async engine; SQLite gets foreign keys on (off only for migrations, whose
    batch mode recreates tables and would otherwise cascade deletes) and a busy timeout;
    a server database the `pool` settings (their defaults when none are given)."""
    _prepare_sqlite_folder(url)
    if make_url(url).get_backend_name() == "sqlite":
        kwargs.setdefault("connect_args", {"timeout": 30})
        engine = create_async_engine(url, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA foreign_keys={'ON' if sqlite_foreign_keys else 'OFF'}")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    return create_async_engine(url, **{**(pool or DatabasePool()).engine_options(), **kwargs})


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", "identity:migrations")
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["version_table"] = VERSION_TABLE
    return config


def migrate(url: str, revision: str = "head") -> None:
    """Bring the database at `url` to `revision` (synchronous; uses its own loop)."""
    _prepare_sqlite_folder(url)
    command.upgrade(alembic_config(url), revision)
