"""Per-address throttling of the login and token endpoints, with the `limits` library.

Counters live in memory by default (`policy.counters.MemoryCounters`, swept on the
event loop, no worker thread); with `IDENTITY_RATE_LIMIT_STORAGE=redis://...` they
live in Redis under `IDENTITY_RATE_LIMIT_KEY_PREFIX`, so every replica shares them
(and stacks sharing a Redis keep apart). A moving window: a burst cannot
straddle two fixed windows to get twice the allowance.

When Redis cannot be reached (refused, or silent past `IDENTITY_REDIS_TIMEOUT`) the
counters fall back to this process's memory until Redis answers again
(`policy.ratelimit_fallback`): sign-in keeps working and stays limited, per process.
"""

from __future__ import annotations

from limits import RateLimitItem, parse
from limits.aio.storage import Storage

from policy import metrics
from policy.degraded import Dependency
from policy.ratelimit_fallback import Limiter


class Throttle:
    def __init__(
        self,
        storage_uri: str,
        limits: dict[str, str],
        key_prefix: str = "tinpass-identity",
        *,
        timeout: float = 0.5,
        retry_interval: float = 5.0,
    ) -> None:
        self.limiter = Limiter(
            storage_uri, key_prefix=key_prefix, timeout=timeout, retry_interval=retry_interval
        )
        self.items: dict[str, RateLimitItem] = {
            bucket: parse(rate) for bucket, rate in limits.items()
        }

    @property
    def storage(self) -> Storage:
        """Where the counters live while the store answers (memory, or Redis)."""
        return self.limiter.storage

    @property
    def health(self) -> Dependency | None:
        """The Redis store's state (None for counters in memory)."""
        return self.limiter.health

    async def retry_after(self, bucket: str, key: str) -> int | None:
        """Count one hit; None when allowed, else the seconds until the next is."""
        wait = await self.limiter.retry_after(self.items[bucket], bucket, key)
        if wait is not None:
            metrics.RATE_LIMITED("identity", bucket).inc()
        return wait

    async def reset(self) -> None:
        await self.limiter.reset()

    async def aclose(self) -> None:
        """Stop probing and close the Redis connection pool, if the counters live in Redis."""
        await self.limiter.aclose()
