"""Identity fixtures: a fresh migrated database and a session on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio.to_thread
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from identity.db import create_engine, migrate, session_factory
from identity.settings import Settings
from tests.support.databases import fresh_database


@pytest.fixture
async def identity_db_url(tmp_path: Path) -> AsyncIterator[str]:
    async with fresh_database("identity", tmp_path) as url:
        await anyio.to_thread.run_sync(migrate, url)
        yield url


@pytest.fixture
async def sessions(identity_db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(identity_db_url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


@pytest.fixture
def settings(identity_db_url: str) -> Settings:
    return Settings(environment="test", database_url=identity_db_url, key_cache_seconds=0)
