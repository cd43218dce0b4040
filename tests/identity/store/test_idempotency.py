"""The idempotency store on a real database: an answer kept is found under its own key
only, sealed (its row holds no clear text and cannot be moved to another key). Expiry
is shown through the API (tests/identity/admin/test_idempotency.py)."""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from identity.idempotency_records import IdempotencyRecord
from identity.settings import Settings
from identity.store.idempotency import Answer, IdempotencyStore, KeyScope

MINE = KeyScope("user-1", "org-1", "key-1")
ANSWER = Answer("a" * 64, 201, {"id": "c-1", "client_secret": "s3cr3t-value"})


async def keep(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    async with sessions() as session:
        store = IdempotencyStore(session, settings)
        assert await store.hold(MINE)
        store.keep(MINE, ANSWER)
        await session.commit()


async def test_an_answer_is_found_under_its_own_key_only_and_sealed_to_it(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    await keep(sessions, settings)
    async with sessions() as session:
        store = IdempotencyStore(session, settings)
        assert await store.find(MINE) == ANSWER
        for other in (
            KeyScope("user-2", "org-1", "key-1"),
            KeyScope("user-1", "org-2", "key-1"),
            KeyScope("user-1", "org-1", "key-2"),
        ):
            assert await store.find(other) is None
        row = await session.scalar(select(IdempotencyRecord))
        assert row is not None and "s3cr3t" not in row.response and "c-1" not in row.response
        await session.execute(update(IdempotencyRecord).values(caller_id="user-2"))
        await session.commit()
        with pytest.raises(InvalidTag):  # a row moved to another key does not open
            await store.find(KeyScope("user-2", "org-1", "key-1"))
