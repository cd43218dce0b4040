"""Per-address throttling of the login and token endpoints, with the `limits` library.

Counters live in memory by default (`policy.counters.MemoryCounters`, swept on the
event loop, no worker thread); with `IDENTITY_RATE_LIMIT_STORAGE=redis://...` they
live in Redis under `IDENTITY_RATE_LIMIT_KEY_PREFIX`, so every replica shares them
(and stacks sharing a Redis keep apart). A moving window: a burst cannot
straddle two fixed windows to get twice the allowance.
"""

from __future__ import annotations

import time

from limits import RateLimitItem, parse
from limits.aio.strategies import MovingWindowRateLimiter

from policy import counters, metrics


class Throttle:
    def __init__(
        self, storage_uri: str, limits: dict[str, str], key_prefix: str = "tinpass-identity"
    ) -> None:
        redis = {"implementation": "redispy", "key_prefix": key_prefix}
        options = redis if "redis" in storage_uri else {}
        self.storage = counters.storage(storage_uri, **options)
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.items: dict[str, RateLimitItem] = {
            bucket: parse(rate) for bucket, rate in limits.items()
        }

    async def retry_after(self, bucket: str, key: str) -> int | None:
        """Count one hit; None when allowed, else the seconds until the next is."""
        item = self.items[bucket]
        if await self.limiter.hit(item, bucket, key):
            return None
        stats = await self.limiter.get_window_stats(item, bucket, key)
        metrics.RATE_LIMITED("identity", bucket).inc()
        return max(1, int(stats.reset_time - time.time()) + 1)

    async def reset(self) -> None:
        await self.storage.reset()

    async def aclose(self) -> None:
        """Close the Redis connection pool, if the counters live in Redis."""
        bridge = getattr(self.storage, "bridge", None)
        client = getattr(bridge, "storage", None)
        if client is not None and hasattr(client, "aclose"):
            await client.aclose()
