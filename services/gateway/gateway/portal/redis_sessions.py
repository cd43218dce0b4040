"""Portal sessions in Redis, shared by every worker process and replica of a gateway.

The same contract as `MemorySessionStore`: records are keyed by the SHA-256 digest
of the cookie value, end after an absolute lifetime or when idle, and can be ended
by SSO session (`sid`) or subject, wherever the back-channel logout arrives. A
record is a JSON value under `<prefix>:portal:s:<digest>` whose Redis expiry is the
nearer of its idle and absolute deadlines (renewed on each load); sets under
`<prefix>:portal:sid:<sid>` and `<prefix>:portal:sub:<sub>` index the digests.

A Redis that refuses, or is silent past `GATEWAY_REDIS_TIMEOUT`, raises
`SessionStoreUnavailable` (the portal answers 503 with Retry-After): a session cannot
be made up in one process. The first failure logs one line and raises the alert
metric (`policy.degraded`); until a background ping finds Redis again, every call
fails at once instead of waiting for Redis again.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from gateway.portal.sessions import SessionStoreUnavailable, digest
from policy.degraded import Dependency, redis_options

COMPONENT = "session_store"


class RedisSessionStore:
    def __init__(
        self,
        url: str,
        prefix: str,
        ttl: float,
        idle_timeout: float,
        *,
        timeout: float = 0.5,
        retry_interval: float = 5.0,
    ) -> None:
        self.redis = aioredis.from_url(url, decode_responses=True, **redis_options(timeout))
        self.prefix = f"{prefix}:portal"
        self.ttl, self.idle_timeout = ttl, idle_timeout
        self.health = Dependency(COMPONENT, self._ping, retry_interval)
        self.retry_after = max(1, math.ceil(retry_interval))

    async def _ping(self) -> bool:
        return bool(await self.redis.ping())

    @asynccontextmanager
    async def _reached(self) -> AsyncIterator[None]:
        """Fail at once while Redis is known to be down; note a failure when it goes."""
        if self.health.down:
            raise SessionStoreUnavailable(self.retry_after)
        try:
            yield
        except (RedisError, OSError) as error:
            self.health.failed(error)
            raise SessionStoreUnavailable(self.retry_after) from error

    def _key(self, session_id: str) -> str:
        return f"{self.prefix}:s:{digest(session_id)}"

    def _expiry_ms(self, created_at: float, now: float) -> int:
        """Milliseconds to the nearer deadline (idle or absolute); 0 when past."""
        left = min(self.idle_timeout, self.ttl - (now - created_at))
        return max(0, int(left * 1000))

    async def load(self, session_id: str) -> dict[str, Any] | None:
        async with self._reached():
            return await self._load(session_id)

    async def _load(self, session_id: str) -> dict[str, Any] | None:
        key, now = self._key(session_id), time.time()
        raw = await self.redis.get(key)
        if raw is None:
            return None
        record = json.loads(raw)
        expiry = self._expiry_ms(record["created_at"], now)
        if expiry <= 0:
            await self.redis.delete(key)
            return None
        await self.redis.pexpire(key, expiry)
        data: dict[str, Any] = record["data"]
        return data

    async def save(self, session_id: str, data: dict[str, Any]) -> None:
        async with self._reached():
            await self._save(session_id, data)

    async def _save(self, session_id: str, data: dict[str, Any]) -> None:
        key, now = self._key(session_id), time.time()
        raw = await self.redis.get(key)
        created_at = json.loads(raw)["created_at"] if raw else now
        expiry = self._expiry_ms(created_at, now)
        if expiry <= 0:
            return
        value = json.dumps({"data": data, "created_at": created_at}, separators=(",", ":"))
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(key, value, px=expiry)
            for kind in ("sid", "sub"):
                if isinstance(data.get(kind), str):
                    index = f"{self.prefix}:{kind}:{data[kind]}"
                    pipe.sadd(index, key)
                    pipe.expire(index, int(self.ttl) + 1)
            await pipe.execute()

    async def delete(self, session_id: str) -> None:
        async with self._reached():
            await self.redis.delete(self._key(session_id))

    async def end_by_sid(self, sid: str) -> int:
        return await self._end("sid", sid)

    async def end_by_subject(self, subject: str) -> int:
        return await self._end("sub", subject)

    async def _end(self, kind: str, value: str) -> int:
        """End the indexed sessions whose record still names `value` (a session may
        have signed in again since it was indexed)."""
        async with self._reached():
            return await self._end_indexed(kind, value)

    async def _end_indexed(self, kind: str, value: str) -> int:
        index = f"{self.prefix}:{kind}:{value}"
        keys = sorted(await self.redis.smembers(index))
        records = await self.redis.mget(keys) if keys else []
        matching = [
            k
            for k, raw in zip(keys, records, strict=True)
            if raw and json.loads(raw)["data"].get(kind) == value
        ]
        ended: int = await self.redis.delete(*matching) if matching else 0
        await self.redis.delete(index)
        return ended

    async def ping(self) -> None:
        await self.redis.ping()

    async def aclose(self) -> None:
        await self.health.aclose()
        await self.redis.aclose()
