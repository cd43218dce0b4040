"""The in-memory session store: absolute and idle timeouts, ending by sid or subject."""

from __future__ import annotations

from gateway.portal.sessions import MemorySessionStore, digest


async def test_a_saved_session_loads_until_deleted() -> None:
    store = MemorySessionStore(ttl=3600, idle_timeout=600)
    await store.save("s-1", {"sid": "a"})
    assert await store.load("s-1") == {"sid": "a"}
    await store.delete("s-1")
    assert await store.load("s-1") is None


async def test_sessions_end_after_their_lifetime_or_when_idle() -> None:
    store = MemorySessionStore(ttl=3600, idle_timeout=600)
    await store.save("old", {"sid": "a"})
    await store.save("idle", {"sid": "b"})
    store._records[digest("old")].created_at -= 3601
    store._records[digest("idle")].last_seen_at -= 601
    assert await store.load("old") is None
    assert await store.load("idle") is None
    assert len(store) == 0


async def test_loading_keeps_a_session_alive() -> None:
    store = MemorySessionStore(ttl=3600, idle_timeout=600)
    await store.save("s-1", {"sid": "a"})
    store._records[digest("s-1")].last_seen_at -= 500
    assert await store.load("s-1") is not None
    store._records[digest("s-1")].last_seen_at -= 500
    assert await store.load("s-1") is not None


async def test_ending_by_sid_or_subject_ends_only_those() -> None:
    store = MemorySessionStore(ttl=3600, idle_timeout=600)
    await store.save("1", {"sid": "a", "sub": "u1"})
    await store.save("2", {"sid": "b", "sub": "u1"})
    await store.save("3", {"sid": "c", "sub": "u2"})
    assert await store.end_by_sid("a") == 1
    assert await store.end_by_subject("u1") == 1
    assert await store.load("3") == {"sid": "c", "sub": "u2"}


async def test_the_store_keeps_digests_not_ids() -> None:
    store = MemorySessionStore(ttl=3600, idle_timeout=600)
    await store.save("secret-id", {})
    assert "secret-id" not in store._records and digest("secret-id") in store._records


async def test_at_the_bound_the_least_recently_used_session_goes() -> None:
    store = MemorySessionStore(ttl=3600, idle_timeout=600, max_sessions=2)
    await store.save("first", {})
    await store.save("second", {})
    store._records[digest("second")].last_seen_at -= 10
    await store.save("third", {})
    assert len(store) == 2
    assert await store.load("second") is None
    assert await store.load("first") is not None and await store.load("third") is not None
