"""`policy.dbpool.autocommit_reads`: a session's first reads without a transaction, and
whatever it writes after its next commit in a transaction of its own."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from policy.dbpool import autocommit_reads, create_engine, in_autocommit_reads, session_factory
from tests.support.databases import fresh_database


async def test_reads_then_a_write_in_a_transaction_of_its_own(tmp_path: Path) -> None:
    async with fresh_database("autocommit", tmp_path) as url:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.execute(text("CREATE TABLE things (name VARCHAR(20))"))
            sessions = session_factory(engine)
            async with sessions() as session:
                assert await autocommit_reads(session)
                assert in_autocommit_reads(session)
                assert await session.scalar(text("SELECT count(*) FROM things")) == 0
                await session.commit()
                assert not in_autocommit_reads(session)
                await session.execute(text("INSERT INTO things VALUES ('undone')"))
                await session.rollback()  # the write had a transaction: nothing kept
                await session.execute(text("INSERT INTO things VALUES ('kept')"))
                await session.commit()
            async with sessions() as session:
                await session.execute(text("SELECT 1"))
                assert not await autocommit_reads(session)  # already began: unchanged
                assert not in_autocommit_reads(session)
                names = (await session.scalars(text("SELECT name FROM things"))).all()
            assert names == ["kept"]
        finally:
            await engine.dispose()
