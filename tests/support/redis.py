"""The Redis server used by tests of shared counters: required in CI; a fault proxy
before it for the outage tests, and what they read of the degraded state."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest
import redis.asyncio as aioredis
from prometheus_client import REGISTRY

from policy.degraded import Dependency
from tests.support.faultproxy import FaultProxy

REDIS_URL = os.environ.get("TINPASS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def require_redis() -> str:
    client = aioredis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (OSError, aioredis.RedisError) as error:
        if os.environ.get("CI") == "true" or os.environ.get("TINPASS_REQUIRE_POSTGRES") == "1":
            raise RuntimeError(
                f"Redis is required here but {REDIS_URL} cannot be reached"
            ) from error
        pytest.skip(f"Redis at {REDIS_URL} cannot be reached: the shared-counter test was not run")
    finally:
        await client.aclose()
    return REDIS_URL


@contextmanager
def redis_proxy(url: str) -> Iterator[tuple[FaultProxy, str]]:
    """A FaultProxy before the Redis at `url`, and the Redis URL through it."""
    parts = urlsplit(url)
    with FaultProxy(parts.hostname or "127.0.0.1", parts.port or 6379) as proxy:
        yield proxy, f"redis://127.0.0.1:{proxy.port}{parts.path or '/0'}"


async def until_up(health: Dependency, attempts: int = 100) -> None:
    """Poll until the store's background probe has found it again (at most ~5 s)."""
    for _ in range(attempts):
        if not health.down:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{health.component} did not come back after Redis did")


def degraded_gauge(component: str) -> float:
    """`tinpass_degraded{component=...}` in the default registry (what /metrics serves)."""
    return REGISTRY.get_sample_value("tinpass_degraded", {"component": component}) or 0.0


def transitions(component: str) -> float:
    name = "tinpass_degraded_transitions_total"
    return REGISTRY.get_sample_value(name, {"component": component}) or 0.0
