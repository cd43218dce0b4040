"""The fault proxy the outage tests put between a service and Redis: each mode does what
those tests rely on (passes, refuses, hangs, cuts) and the path recovers when set back."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from tests.support.faultproxy import FaultProxy
from tests.support.redis import require_redis


async def test_modes_pass_refuse_hang_cut_and_recover() -> None:
    url = await require_redis()
    host, port = url.split("//")[1].split("/")[0].split(":")
    with FaultProxy(host, int(port)) as proxy:
        client = aioredis.from_url(
            f"redis://127.0.0.1:{proxy.port}/0", socket_timeout=0.5, socket_connect_timeout=0.5
        )
        try:
            assert await client.ping() is True
            proxy.mode = "refuse"
            with pytest.raises((RedisConnectionError, RedisTimeoutError)):
                await client.ping()
            proxy.mode = "blackhole"
            started = asyncio.get_running_loop().time()
            with pytest.raises(RedisTimeoutError):
                await client.ping()
            assert asyncio.get_running_loop().time() - started >= 0.4
            proxy.cut()
            proxy.mode = "pass"
            for _ in range(3):  # the pool may hand out a connection cut above first
                try:
                    assert await client.ping() is True
                    break
                except (RedisConnectionError, RedisTimeoutError):
                    continue
            else:
                pytest.fail("the path through the proxy did not recover")
            assert proxy.connections >= 3
        finally:
            await client.aclose()
