"""Moving-window rate limits that keep counting when Redis is down.

The one failure policy of TINpass's rate limits, identity's throttle and the
gateway's limits alike (docs/operations.md, "When Redis is down"): a rate-limit store
is not worth failing sign-in or the APIs for, and not worth dropping the limits
for either. `Limiter` counts in Redis while it answers; when a call fails or hangs
past the Redis timeout it counts in this process's memory instead
(`policy.counters.MemoryCounters`: each limit then holds per process, not for the
service as a whole), logs it once and raises the alert metric (`policy.degraded`),
and a background probe brings it back to Redis once Redis answers again. Counters
in `memory://` (the default) never fall back: there is nothing to fall from.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

from policy import counters
from policy.degraded import Dependency, redis_options

COMPONENT = "rate_limit_store"


class Limiter:
    """Moving windows over `url` (memory:// or a Redis URL), falling back to memory."""

    def __init__(
        self,
        url: str,
        *,
        key_prefix: str | None = None,
        timeout: float = 0.5,
        retry_interval: float = 5.0,
    ) -> None:
        self.memory = counters.MemoryCounters()
        self.storage: Storage = self.memory
        self.health: Dependency | None = None
        if not url.removeprefix("async+").startswith("memory://"):
            options = {"implementation": "redispy", "wrap_exceptions": True}
            if key_prefix:
                options["key_prefix"] = key_prefix
            self.storage = counters.storage(url, **options, **redis_options(timeout))
            self.health = Dependency(COMPONENT, self.storage.check, retry_interval)
        self._local = MovingWindowRateLimiter(self.memory)
        self._shared = MovingWindowRateLimiter(self.storage) if self.health else self._local

    @property
    def degraded(self) -> bool:
        """True while counting in this process because Redis cannot be reached."""
        return self.health is not None and self.health.down

    async def retry_after(
        self, item: RateLimitItem, *identifiers: str, cost: int = 1
    ) -> int | None:
        """Count `cost` hits; None when within `item`, else the seconds until there is room."""
        health = self.health
        limiter = self._local if health is None or health.down else self._shared
        try:
            if await limiter.hit(item, *identifiers, cost=cost):
                return None
            stats = await limiter.get_window_stats(item, *identifiers)
        except (StorageError, OSError) as error:
            if health is None or limiter is self._local:
                raise
            health.failed(getattr(error, "storage_error", error))
            return await self.retry_after(item, *identifiers, cost=cost)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def reset(self) -> None:
        """Forget every counter (in Redis: those under this key prefix) and in memory."""
        await self.memory.reset()
        if self.storage is not self.memory:
            await self.storage.reset()

    async def aclose(self) -> None:
        """Stop the probe and close the Redis connection pool, if any."""
        if self.health is not None:
            await self.health.aclose()
        client = getattr(getattr(self.storage, "bridge", None), "storage", None)
        if client is not None:  # redis.asyncio.Redis, for counters in Redis
            await client.aclose()
