"""Connection-pool settings: validated, the same in identity and provider data, and
applied to PostgreSQL engines only (SQLite keeps SQLAlchemy's own pool)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import asyncpg
import pytest
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import QueuePool

from identity.db import create_engine as identity_engine
from identity.settings import Settings as IdentitySettings
from policy.dbpool import DatabasePool
from provider_data.platform.db import create_engine as plan_engine
from provider_data.platform.settings import Settings as PlanSettings
from tests.support.databases import db_kind, fresh_database

PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/never-connected"


def test_production_defaults() -> None:
    assert DatabasePool().engine_options() == {
        "pool_size": 20,
        "max_overflow": 10,
        "pool_timeout": 10.0,
        "pool_recycle": 1800,
        "pool_pre_ping": False,
    }


@pytest.mark.parametrize(
    "field, value",
    [
        ("db_pool_size", 0),
        ("db_max_overflow", -1),
        ("db_pool_timeout", 0),
        ("db_pool_recycle", 0),
        ("db_pool_recycle", -2),
    ],
)
def test_nonsense_is_refused(field: str, value: float) -> None:
    given: dict[str, Any] = {field: value}
    with pytest.raises(ValidationError):
        IdentitySettings(**given)
    with pytest.raises(ValidationError):
        PlanSettings(**given)


def test_each_service_reads_its_own_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDENTITY_DB_POOL_SIZE", "7")
    monkeypatch.setenv("IDENTITY_DB_POOL_RECYCLE", "-1")
    monkeypatch.setenv("PROVIDER_DATA_DB_MAX_OVERFLOW", "3")
    monkeypatch.setenv("PROVIDER_DATA_DB_POOL_PRE_PING", "true")
    identity, plan = IdentitySettings(), PlanSettings()
    assert (identity.db_pool_size, identity.db_pool_recycle, identity.db_max_overflow) == (
        7,
        -1,
        10,
    )
    assert (plan.db_pool_size, plan.db_max_overflow, plan.db_pool_pre_ping) == (20, 3, True)


@pytest.mark.parametrize("make", [identity_engine, plan_engine])
async def test_postgresql_engines_are_pooled_as_configured(make: object) -> None:
    settings = DatabasePool(
        db_pool_size=4, db_max_overflow=2, db_pool_timeout=3, db_pool_recycle=60
    )
    engine = make(PG, pool=settings)  # type: ignore[operator]
    pool = engine.sync_engine.pool
    assert isinstance(pool, QueuePool)
    assert (pool.size(), pool._max_overflow, pool._timeout, pool._recycle) == (4, 2, 3, 60)
    assert pool._pre_ping is False
    await engine.dispose()
    default = make(PG)  # type: ignore[operator]
    assert default.sync_engine.pool.size() == 20
    await default.dispose()


@pytest.mark.parametrize("make", [identity_engine, plan_engine])
async def test_sqlite_engines_keep_their_own_pool(make: object, tmp_path: Path) -> None:
    engine = make(f"sqlite+aiosqlite:///{tmp_path}/x.db", pool=DatabasePool(db_pool_size=3))  # type: ignore[operator]
    assert engine.sync_engine.pool.size() != 3
    await engine.dispose()


@pytest.mark.skipif(db_kind() != "postgresql", reason="a server that drops connections")
async def test_without_pre_ping_dropped_connections_cost_one_failure(tmp_path: Path) -> None:
    """The database restarts (every connection dropped): the first checkout finds out,
    and SQLAlchemy discards it with every older pooled one; the next ones reconnect."""
    async with fresh_database("pool", tmp_path) as url:
        engine = identity_engine(url, pool=DatabasePool(db_pool_size=3))
        try:
            async with engine.connect() as one, engine.connect() as two:
                for connection in (one, two):
                    await connection.execute(text("SELECT 1"))
            assert cast(QueuePool, engine.sync_engine.pool).checkedin() == 2
            admin = await asyncpg.connect(url.replace("+asyncpg", ""))
            try:
                await admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            finally:
                await admin.close()
            with pytest.raises(DBAPIError) as failed:
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
            assert failed.value.connection_invalidated
            for _ in range(3):
                async with engine.connect() as connection:
                    assert (await connection.execute(text("SELECT 1"))).scalar() == 1
        finally:
            await engine.dispose()
