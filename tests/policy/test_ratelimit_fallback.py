"""The rate limits' failure policy (policy.ratelimit_fallback, policy.degraded): with
Redis refused or hung they count in process memory, say so once and in the alert
metric, stop asking Redis on every hit, and return to Redis by themselves."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator

import pytest
from limits import parse

from policy.ratelimit_fallback import COMPONENT, Limiter
from tests.support.faultproxy import FaultProxy
from tests.support.redis import (
    degraded_gauge,
    redis_proxy,
    require_redis,
    transitions,
    until_up,
)

ITEM = parse("3/minute")


@pytest.fixture
async def proxied() -> AsyncIterator[tuple[FaultProxy, str, str]]:
    """A fault proxy before Redis, its URL and a key prefix of the test's own."""
    url = await require_redis()
    prefix = f"test-fallback-{uuid.uuid4().hex}"
    with redis_proxy(url) as (proxy, through):
        yield proxy, through, prefix
    cleanup = Limiter(url, key_prefix=prefix)
    await cleanup.reset()
    await cleanup.aclose()


async def hits(limiter: Limiter, key: str, count: int) -> list[int | None]:
    return [await limiter.retry_after(ITEM, "client", key) for _ in range(count)]


@pytest.mark.parametrize("fault", ["refuse", "blackhole"])
async def test_counts_in_memory_while_redis_is_down_then_in_redis_again(
    proxied: tuple[FaultProxy, str, str], fault: str, caplog: pytest.LogCaptureFixture
) -> None:
    proxy, url, prefix = proxied
    caplog.set_level(logging.WARNING, logger="policy.degraded")
    one = Limiter(url, key_prefix=prefix, timeout=0.2, retry_interval=0.3)
    two = Limiter(url, key_prefix=prefix, timeout=0.2, retry_interval=0.3)
    gauge, moves = degraded_gauge(COMPONENT), transitions(COMPONENT)
    try:
        assert await hits(one, "acme", 2) == [None, None]  # in Redis
        assert await hits(two, "acme", 1) == [None]  # the same window: it is now full

        proxy.mode = fault  # type: ignore[assignment]
        allowed = await hits(one, "acme", 3)
        assert allowed == [None, None, None], "a fresh count in this process, not a refusal"
        assert one.degraded and degraded_gauge(COMPONENT) == gauge + 1
        refused = await one.retry_after(ITEM, "client", "acme")
        assert refused is not None and 0 < refused <= 60, "the limit still holds per process"
        seen = proxy.connections
        await hits(one, "other", 5)
        assert proxy.connections - seen <= 1, "hits while down do not ask Redis (only a probe)"
        assert transitions(COMPONENT) == moves + 1

        proxy.cut()
        proxy.mode = "pass"
        await until_up(one.health)  # type: ignore[arg-type]
        assert not one.degraded and degraded_gauge(COMPONENT) == gauge
        assert transitions(COMPONENT) == moves + 2
        again = await one.retry_after(ITEM, "client", "acme")
        assert again is not None, "back in Redis: the window filled by both before the outage"
    finally:
        await one.aclose()
        await two.aclose()
    lines = [(r.getMessage(), r.__dict__.get("component")) for r in caplog.records]
    assert lines == [("dependency.down", COMPONENT), ("dependency.restored", COMPONENT)]


async def test_a_hung_redis_holds_a_hit_at_most_its_timeout(
    proxied: tuple[FaultProxy, str, str],
) -> None:
    proxy, url, prefix = proxied
    limiter = Limiter(url, key_prefix=prefix, timeout=0.2, retry_interval=60)
    gauge = degraded_gauge(COMPONENT)
    try:
        assert await hits(limiter, "acme", 1) == [None]
        proxy.mode = "blackhole"
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await hits(limiter, "acme", 1) == [None]
        first = loop.time() - started
        assert first < 2.0, f"a hung Redis held the hit {first:.1f} s, past its 0.2 s timeout"
        assert limiter.degraded and degraded_gauge(COMPONENT) == gauge + 1
        assert limiter.health is not None and limiter.health.status()["state"] == "down"
    finally:
        await limiter.aclose()
    assert degraded_gauge(COMPONENT) == gauge, "a closed limiter is no longer counted as degraded"


async def test_memory_counters_never_fall_back() -> None:
    limiter = Limiter("memory://")
    assert limiter.health is None and not limiter.degraded
    assert await hits(limiter, "acme", 4) == [None, None, None, 60]
    await limiter.aclose()
