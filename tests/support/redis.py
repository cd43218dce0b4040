"""The Redis server used by tests of shared counters: required in CI."""

from __future__ import annotations

import os

import pytest
import redis.asyncio as aioredis

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
