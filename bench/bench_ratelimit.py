"""The gateway's rate-limit check: one moving-window hit, in memory and in Redis.

Checks per second for an allowed request (one hit) and a refused one (the hit
plus the window read for Retry-After), one at a time and 20 in flight. Redis is
`TINPASS_TEST_REDIS_URL` (default redis://127.0.0.1:6379/0), under a key prefix of
its own that is removed afterwards; skipped with a note when Redis is not there.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import redis.asyncio as aioredis

from gateway.ratelimit import RateLimits
from gateway.settings import Settings

ROUNDS = 2000
REDIS_URL = os.environ.get("TINPASS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def _rate(limits: RateLimits, key: str, in_flight: int) -> float:
    async def worker(n: int) -> None:
        for _ in range(n):
            await limits.wait("client", key)

    started = time.perf_counter()
    await asyncio.gather(*(worker(ROUNDS // in_flight) for _ in range(in_flight)))
    return ROUNDS / (time.perf_counter() - started)


async def _measure(name: str, url: str) -> None:
    prefix = f"bench-{uuid.uuid4().hex}"
    allowed = RateLimits.from_settings(
        Settings(
            rate_limit_storage_url=url,
            rate_limit_key_prefix=prefix,
            rate_limit_per_client=f"{10 * ROUNDS}/minute",
        )
    )
    refused = RateLimits.from_settings(
        Settings(
            rate_limit_storage_url=url,
            rate_limit_key_prefix=prefix,
            rate_limit_per_client="1/minute",
        )
    )
    try:
        for in_flight in (1, 20):
            ok = await _rate(allowed, f"ok-{in_flight}", in_flight)
            over = await _rate(refused, f"over-{in_flight}", in_flight)
            print(f"{name:<8}{in_flight:>10}{ok:>16,.0f}{over:>16,.0f}")
    finally:
        await allowed.reset()
        await allowed.aclose()
        await refused.aclose()


async def run() -> None:
    print(f"{'storage':<8}{'in flight':>10}{'allowed/s':>16}{'refused/s':>16}")
    await _measure("memory", "memory://")
    client = aioredis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (OSError, aioredis.RedisError):
        print(f"redis    not measured: {REDIS_URL} cannot be reached")
        return
    finally:
        await client.aclose()
    await _measure("redis", REDIS_URL)
