"""Fresh, real databases for tests: SQLite files or PostgreSQL databases.

`TINPASS_TEST_DB` selects the kind (`sqlite`, the default, or `postgresql`); the
PostgreSQL server is `TINPASS_TEST_POSTGRES_URL`. Each call makes a new, empty
database; the schema is then made by the service's own Alembic migrations.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def db_kind() -> str:
    kind = os.environ.get("TINPASS_TEST_DB", "sqlite")
    if kind not in {"sqlite", "postgresql"}:
        raise RuntimeError(f"TINPASS_TEST_DB must be sqlite or postgresql, not {kind!r}")
    return kind


def _pg_server_url() -> str:
    return os.environ.get("TINPASS_TEST_POSTGRES_URL", DEFAULT_PG)


def _plain_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@asynccontextmanager
async def fresh_database(name: str, tmp_dir: Path) -> AsyncIterator[str]:
    """Yield the SQLAlchemy URL of a new empty database; drop it afterwards."""
    if db_kind() == "sqlite":
        path = tmp_dir / f"{name}-{uuid.uuid4().hex[:8]}.db"
        yield f"sqlite+aiosqlite:///{path}"
        return
    server = _pg_server_url()
    dbname = f"tinpass_t_{name}_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(_plain_dsn(server))
    try:
        await admin.execute(f'CREATE DATABASE "{dbname}"')
    finally:
        await admin.close()
    base, _, _ = server.rpartition("/")
    try:
        yield f"{base}/{dbname}"
    finally:
        admin = await asyncpg.connect(_plain_dsn(server))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        finally:
            await admin.close()
