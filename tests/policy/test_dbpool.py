"""Connection-pool settings: validated, the same in identity and provider data, and
applied to PostgreSQL engines only (SQLite keeps SQLAlchemy's own pool)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

import asyncpg
import pytest
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from identity.db import create_engine as identity_engine
from identity.settings import Settings as IdentitySettings
from policy.dbpool import DatabasePool
from policy.outages import is_outage
from provider_data.platform.db import create_engine as plan_engine
from provider_data.platform.settings import Settings as PlanSettings
from tests.support.databases import db_kind, fresh_database
from tests.support.dbfaults import SHORT_TIMEOUTS, proxied

PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/never-connected"


def test_production_defaults() -> None:
    assert DatabasePool().engine_options() == {
        "pool_size": 20,
        "max_overflow": 10,
        "pool_timeout": 3.0,
        "pool_recycle": 1800,
        "pool_pre_ping": False,
    }
    assert DatabasePool().connect_args() == {
        "timeout": 2.0,
        "command_timeout": 4.0,
        "server_settings": {"statement_timeout": "3000"},
    }
    assert DatabasePool().without_statement_timeout().connect_args() == {"timeout": 2.0}


@pytest.mark.parametrize(
    "field, value",
    [
        ("db_pool_size", 0),
        ("db_max_overflow", -1),
        ("db_pool_timeout", 0),
        ("db_pool_recycle", 0),
        ("db_pool_recycle", -2),
        ("db_connect_timeout", 0),
        ("db_statement_timeout", -1),
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
async def test_connections_dropped_while_pooled_are_replaced_without_a_failure(
    tmp_path: Path,
) -> None:
    """The database restarts (every connection dropped): a checkout sees the closed
    socket (no round trip) and connects afresh, so no request fails."""
    async with fresh_database("pool", tmp_path) as url:
        engine = identity_engine(url, pool=DatabasePool(db_pool_size=3))
        try:
            drivers: list[Any] = []
            async with engine.connect() as one, engine.connect() as two:
                for connection in (one, two):
                    await connection.execute(text("SELECT 1"))
                    drivers.append((await connection.get_raw_connection()).driver_connection)
            assert cast(QueuePool, engine.sync_engine.pool).checkedin() == 2
            admin = await asyncpg.connect(url.replace("+asyncpg", ""))
            try:
                await admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            finally:
                await admin.close()
            for _ in range(500):  # until the server's goodbye has reached this process
                if all(driver.is_closed() for driver in drivers):
                    break
                await asyncio.sleep(0.01)
            for _ in range(3):
                async with engine.connect() as connection:
                    assert (await connection.execute(text("SELECT 1"))).scalar() == 1
        finally:
            await engine.dispose()


async def _select_one(engine: AsyncEngine) -> BaseException | None:
    try:
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT 1"))).scalar() == 1
    except Exception as error:
        return error
    return None


@pytest.mark.skipif(db_kind() != "postgresql", reason="network faults between us and PostgreSQL")
async def test_every_wait_is_bounded_and_the_pool_recovers(tmp_path: Path) -> None:
    """A server that hangs (pooled connections and new ones), refuses, drops connections
    or runs a statement too long: each request fails within its timeouts, with an
    error `policy.outages` calls an outage; then the next requests succeed."""
    async with fresh_database("faults", tmp_path) as url:
        with proxied(url) as (proxy, via):
            settings = DatabasePool(db_pool_size=2, db_max_overflow=0, **SHORT_TIMEOUTS)
            engine = identity_engine(via, pool=settings)
            try:
                assert await _select_one(engine) is None
                proxy.mode = "blackhole"
                # a pooled connection (statement timeout), then new ones (connect
                # timeout), and more requests than connections (pool timeout)
                first = await _select_one(engine)
                many = asyncio.gather(*(_select_one(engine) for _ in range(4)))
                for failed in [first, *await asyncio.wait_for(many, 5)]:
                    assert failed is not None and is_outage(failed), failed
                proxy.cut()
                proxy.mode = "refuse"
                failed = await asyncio.wait_for(_select_one(engine), 5)
                assert failed is not None and is_outage(failed)
                proxy.mode = "pass"
                assert await _select_one(engine) is None
                async with engine.connect() as connection:  # the server cancels it
                    with pytest.raises(DBAPIError) as slow:
                        await connection.execute(text("SELECT pg_sleep(5)"))
                assert is_outage(slow.value) and not slow.value.connection_invalidated
                assert await _select_one(engine) is None
            finally:
                await engine.dispose()
