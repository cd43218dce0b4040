"""The in-process rate-limit counters identity and the gateway share (policy.counters)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import anyio.to_thread
import pytest
import redis.asyncio as aioredis
from limits import parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter

from identity.throttle import Throttle
from policy import counters
from policy.counters import MemoryCounters
from tests.support.redis import require_redis


@pytest.fixture
def thread_hops(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every `asyncio.to_thread` and `anyio.to_thread.run_sync` call, counted (and run)."""
    calls: list[Any] = []
    real_asyncio, real_anyio = asyncio.to_thread, anyio.to_thread.run_sync

    async def via_asyncio(func: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(func)
        return await real_asyncio(func, *args, **kwargs)

    async def via_anyio(func: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(func)
        return await real_anyio(func, *args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", via_asyncio)
    monkeypatch.setattr(anyio.to_thread, "run_sync", via_anyio)
    return calls


def test_memory_urls_get_the_shared_counters_and_redis_stays_limits_own() -> None:
    assert isinstance(counters.storage("memory://"), MemoryCounters)
    assert isinstance(counters.storage("async+memory://"), MemoryCounters)
    redis = counters.storage("redis://127.0.0.1:6379", implementation="redispy")
    assert isinstance(redis, RedisStorage) and not isinstance(redis, MemoryCounters)
    assert isinstance(Throttle("memory://", {"login": "1/second"}).storage, MemoryCounters)


async def test_a_moving_window_counts_and_refuses(thread_hops: list[Any]) -> None:
    storage = counters.storage("memory://")
    limiter, item = MovingWindowRateLimiter(storage), parse("3/minute")
    assert [await limiter.hit(item, "login", "10.0.0.1") for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]
    assert await limiter.hit(item, "login", "10.0.0.2"), "each key has its own window"
    stats = await limiter.get_window_stats(item, "login", "10.0.0.1")
    assert stats.remaining == 0 and 0 < stats.reset_time - time.time() <= 60
    assert thread_hops == []


async def test_hits_on_many_keys_hop_to_no_thread(thread_hops: list[Any]) -> None:
    """limits' own memory storage swept expired keys in a worker thread after every
    hit; these counters sweep on the loop, at most once a second."""
    throttle = Throttle("memory://", {"login": "5/second", "token": "100/minute"})
    storage = throttle.storage
    assert isinstance(storage, MemoryCounters)
    for round_ in range(3):
        storage._swept_at = 0.0  # a sweep is due on the next hit
        for key in range(50):
            assert await throttle.retry_after("login", f"10.0.{round_}.{key}") is None
            assert await throttle.retry_after("token", f"10.0.{round_}.{key}") is None
    assert thread_hops == []


async def test_the_sweep_drops_only_what_left_every_window() -> None:
    storage = counters.storage("memory://")
    assert isinstance(storage, MemoryCounters)
    limiter = MovingWindowRateLimiter(storage)
    second, minute = parse("2/second"), parse("3/minute")
    for item in (second, minute):
        assert await limiter.hit(item, "client", "acme")
    storage._sweep(time.time() + 2)  # the per-second entry expired, the minute's did not
    assert len(storage.events) == 1
    assert await limiter.hit(minute, "client", "acme") and await limiter.hit(
        minute, "client", "acme"
    )
    assert not await limiter.hit(minute, "client", "acme"), "the minute's window kept counting"
    storage._sweep(time.time() + 61)
    assert storage.events == {} and storage.locks == {}
    assert await limiter.hit(minute, "client", "acme")


async def test_a_sweep_runs_at_most_once_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    storage = counters.storage("memory://")
    assert isinstance(storage, MemoryCounters)
    sweeps: list[float] = []
    monkeypatch.setattr(storage, "_sweep", sweeps.append)
    limiter, item = MovingWindowRateLimiter(storage), parse("1000/minute")
    for key in range(20):
        await limiter.hit(item, "login", str(key))
    assert len(sweeps) == 1
    storage._swept_at -= MemoryCounters.SWEEP_INTERVAL
    await limiter.hit(item, "login", "again")
    assert len(sweeps) == 2


async def test_identitys_throttle_keeps_its_redis_keys_under_its_prefix() -> None:
    """Stacks sharing a Redis (deploy.ha, tests) keep their counters apart."""
    url = await require_redis()
    prefix = f"test-throttle-{uuid.uuid4().hex}"
    throttle = Throttle(url, {"login": "2/minute"}, key_prefix=prefix)
    client = aioredis.from_url(url)
    try:
        hits = [await throttle.retry_after("login", "198.51.100.7") for _ in range(3)]
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
    finally:
        if left := [key async for key in client.scan_iter(match=f"{prefix}*")]:
            await client.delete(*left)
        await client.aclose()
        await throttle.aclose()
    assert hits[:2] == [None, None] and hits[2] is not None and hits[2] >= 1
    assert keys, "the login counter lives under the prefix"
