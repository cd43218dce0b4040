"""Signing keys as one process caches them: a rotation made by another process (a
replica, `identity rotate-keys`) signs here within `key_cache_seconds`, never later;
a clock the test moves stands in for the time passing."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from identity.keys import KeyStore, ensure_keys, rotate_keys
from identity.settings import Settings
from tests.identity.test_keys import published_long_ago


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_rotation_elsewhere_signs_here_within_the_key_cache_bound(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    settings = settings.model_copy(update={"key_cache_seconds": 15.0})  # the default
    async with sessions() as session:
        await ensure_keys(session, settings)
        await session.commit()
    clock, bound = Clock(), settings.key_cache_seconds
    here = KeyStore(sessions, settings, clock=clock)
    before = await here.signing_key()
    published_before = {k["kid"] for k in (await here.public_jwks())["keys"]}
    async with sessions() as session:  # another process rotates
        await published_long_ago(session, settings)
        promoted = await rotate_keys(session, settings)
        await session.commit()
    clock.now = 1000.0 + bound / 2
    assert (await here.signing_key()).kid == before.kid  # cached: still the old key
    assert promoted.kid in published_before, "the key signing next was already published"
    clock.now = 1000.0 + bound
    assert (await here.signing_key()).kid == promoted.kid != before.kid
    assert before.kid in {k["kid"] for k in (await here.public_jwks())["keys"]}
