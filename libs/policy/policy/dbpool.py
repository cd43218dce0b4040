"""A service's database engine (identity, provider data): its connection-pool settings
for PostgreSQL, and the engine and sessions both services make the same way.

Each worker process keeps `pool_size` connections open and opens up to
`max_overflow` more under bursts (closed again when returned); a request waits at
most `pool_timeout` seconds for one. Connections are replaced after
`pool_recycle` seconds, below the idle timeouts of firewalls and poolers.

Checkouts are not pinged by default (`pool_pre_ping` costs a round trip per
checkout): a connection found broken is discarded by SQLAlchemy together with
every connection opened before it, so after a database restart the requests in
flight fail and the next ones connect afresh. Turn it on where something between
the service and the database drops idle connections silently.

SQLite engines keep SQLAlchemy's defaults (one file, no server to pool against),
with foreign keys on, write-ahead logging and a busy timeout of 30 s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, model_validator
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


class DatabasePool(BaseModel):
    """Mixed into a service's Settings: `<PREFIX>DB_POOL_SIZE` and the others."""

    db_pool_size: int = Field(default=20, ge=1, le=1000)
    db_max_overflow: int = Field(default=10, ge=0, le=1000)
    db_pool_timeout: float = Field(default=10.0, gt=0, le=300)
    db_pool_recycle: int = Field(default=1800, ge=-1)
    db_pool_pre_ping: bool = False

    @model_validator(mode="after")
    def _recycle_is_positive_or_off(self) -> DatabasePool:
        if self.db_pool_recycle == 0:
            raise ValueError("DB_POOL_RECYCLE: seconds (at least 1), or -1 for never")
        return self

    def engine_options(self) -> dict[str, Any]:
        """Keyword arguments for `create_async_engine` (server databases only)."""
        return {
            "pool_size": self.db_pool_size,
            "max_overflow": self.db_max_overflow,
            "pool_timeout": self.db_pool_timeout,
            "pool_recycle": self.db_pool_recycle,
            "pool_pre_ping": self.db_pool_pre_ping,
        }


def prepare_sqlite_folder(url: str) -> None:
    """Make the folder of an SQLite file (nothing for a server database)."""
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
    prepare_sqlite_folder(url)
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
