"""A service's database engine (identity, provider data): its connection-pool settings
for PostgreSQL, and the engine and sessions both services make the same way.

Each worker process keeps `pool_size` connections open and opens up to
`max_overflow` more under bursts (closed again when returned); a request waits at
most `pool_timeout` seconds for one. Connections are replaced after
`pool_recycle` seconds, below the idle timeouts of firewalls and poolers.

Every wait on the database is bounded (PostgreSQL): connecting (`connect_timeout`,
asyncpg's `timeout`, 60 s by default otherwise), each statement (the server's
`statement_timeout`, and asyncpg's `command_timeout` a little later for a server
that does not answer at all) and the wait for a pooled connection (`pool_timeout`).
A statement that times out on the client leaves its connection in an unknown
state: it is closed at once (not rolled back over a dead network) and discarded.

Checkouts are not pinged by default (`pool_pre_ping` costs a round trip per
checkout). Instead a checkout looks whether the connection's socket is still open
(no round trip): one the server or the network closed while it sat in the pool is
replaced before the request uses it. A connection found broken while in use is
discarded by SQLAlchemy together with every connection opened before it, so after
a database restart only the requests in flight fail. Turn the ping on where
something between the service and the database drops idle connections silently.

SQLite engines keep SQLAlchemy's defaults (one file, no server to pool against),
with foreign keys on, write-ahead logging and a busy timeout of 30 s.
"""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, model_validator
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

# What a statement that timed out on the client means: the connection is unusable.
_LOST = (TimeoutError, OSError)
_CONNECT_ARGS: weakref.WeakKeyDictionary[Engine, dict[str, Any]] = weakref.WeakKeyDictionary()


class DatabasePool(BaseModel):
    """Mixed into a service's Settings: `<PREFIX>DB_POOL_SIZE` and the others."""

    db_pool_size: int = Field(default=20, ge=1, le=1000)
    db_max_overflow: int = Field(default=10, ge=0, le=1000)
    db_pool_timeout: float = Field(default=3.0, gt=0, le=300)
    db_pool_recycle: int = Field(default=1800, ge=-1)
    db_pool_pre_ping: bool = False
    db_connect_timeout: float = Field(default=2.0, gt=0, le=300)
    db_statement_timeout: float = Field(default=3.0, ge=0, le=3600)  # 0: none

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

    def connect_args(self) -> dict[str, Any]:
        """asyncpg's connection arguments: the connect timeout and, unless off, the
        statement timeout on the server and (a little later) on the client."""
        return timeouts(self.db_connect_timeout, self.db_statement_timeout)

    def without_statement_timeout(self) -> DatabasePool:
        """The same pool for operators' commands (imports, audit verify): no statement
        timeout, connecting still bounded."""
        return DatabasePool(**{**self.pool_fields(), "db_statement_timeout": 0})

    def pool_fields(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in DatabasePool.model_fields}


def timeouts(connect: float, statement: float) -> dict[str, Any]:
    """asyncpg `connect_args`. The client's command timeout leaves the server's
    statement timeout room to fire first (its error keeps the connection usable)."""
    args: dict[str, Any] = {"timeout": connect}
    if statement > 0:
        args["command_timeout"] = statement + min(1.0, statement / 2)
        args["server_settings"] = {"statement_timeout": str(max(1, int(statement * 1000)))}
    return args


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
    settings = pool or DatabasePool(db_statement_timeout=0)
    connect_args = {**settings.connect_args(), **kwargs.pop("connect_args", {})}
    engine = create_async_engine(
        url, **{**settings.engine_options(), "connect_args": connect_args, **kwargs}
    )
    _CONNECT_ARGS[engine.sync_engine] = connect_args
    _watch_connections(engine.sync_engine)
    return engine


def unpooled(engine: AsyncEngine) -> AsyncEngine:
    """An engine of single connections (never pooled) to the same database, with the
    same timeouts: for a connection that must close when its user is done with it
    (the audit sealer's advisory lock)."""
    connect_args = _CONNECT_ARGS.get(engine.sync_engine, {})
    own = create_async_engine(engine.url, poolclass=NullPool, connect_args=connect_args)
    if engine.dialect.name == "postgresql":
        _watch_connections(own.sync_engine)
    return own


def _watch_connections(engine: Engine) -> None:
    """Closed connections are not handed out; one whose statement timed out is closed."""

    @event.listens_for(engine, "checkout")
    def _closed_is_replaced(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        # A local check, no round trip: the server or the network closed it meanwhile.
        # The pool then opens a fresh one in its place.
        if dbapi_connection.driver_connection.is_closed():
            raise DisconnectionError("the pooled connection was closed")

    @event.listens_for(engine, "handle_error")
    def _timed_out_is_lost(context: Any) -> None:
        if not isinstance(context.original_exception, _LOST) or context.connection is None:
            return
        # Its statement may still run, its reply may still come: never reuse it, and
        # close it now rather than gracefully over a network that may not answer.
        context.is_disconnect = True
        context.invalidate_pool_on_disconnect = False  # the others may be well
        if context.connection.invalidated:
            return
        driver = context.connection.connection.driver_connection
        if driver is not None:
            driver.terminate()


def closed(connection: AsyncConnection) -> bool:
    """Whether a connection held outside the pool was closed by the server or the
    network meanwhile (a local check: asyncpg's socket state; never on SQLite)."""
    try:
        driver = connection.sync_connection.connection.driver_connection  # type: ignore[union-attr]
    except Exception:  # invalidated, or closed by us
        return True
    is_closed = getattr(driver, "is_closed", None)
    return bool(is_closed()) if callable(is_closed) else False


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


_AUTOCOMMIT_READS = "policy.autocommit_reads"


async def autocommit_reads(session: AsyncSession) -> bool:
    """Run the session's next statements, until its next commit or rollback, each on
    its own (the connection in autocommit), for a request that only reads first: a
    read alone is one round trip instead of three (`BEGIN`, the read, `COMMIT`); each
    statement still sees one consistent snapshot. Only when the session has not begun:
    True then. A caller that goes on to change something commits first (no round trip
    in this mode), so that its writes get a transaction of their own."""
    if session.in_transaction():
        return False
    await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    session.info[_AUTOCOMMIT_READS] = session.sync_session.get_transaction()
    return True


def in_autocommit_reads(session: AsyncSession) -> bool:
    """Whether the session's current work began with `autocommit_reads`."""
    began = session.info.get(_AUTOCOMMIT_READS)
    return began is not None and began is session.sync_session.get_transaction()
