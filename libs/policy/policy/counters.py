"""In-process rate-limit counters for `limits`, shared by identity and the gateway.

`limits`' own in-memory storage starts its expiry sweep again as soon as the last
one ended, and the sweep hops to a worker thread for each key: under load, two
thread hops per request. `MemoryCounters` sweeps at most once a second, on the
event loop, without awaiting (nothing interleaves with it). Counters kept in Redis
(several replicas) use `limits`' Redis storage unchanged.
"""

from __future__ import annotations

import bisect
import time
from typing import Any, cast

from limits.aio.storage import MemoryStorage, Storage
from limits.storage import storage_from_string


class MemoryCounters(MemoryStorage):
    """`limits`' in-process storage, its expired entries swept at most once a second
    on the event loop (no worker thread)."""

    SWEEP_INTERVAL = 1.0

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **_: str) -> None:
        super().__init__(uri, wrap_exceptions, **_)
        self._swept_at = 0.0

    async def _MemoryStorage__schedule_expiry(self) -> None:
        if (now := time.monotonic()) - self._swept_at >= self.SWEEP_INTERVAL:
            self._swept_at = now
            self._sweep(time.time())

    def _sweep(self, now: float) -> None:
        """Drop expired moving-window entries and counters (no await: nothing interleaves)."""
        for key, events in list(self.events.items()):
            kept = events[: bisect.bisect_left(events, -now, key=lambda event: -event.expiry)]
            if kept:
                self.events[key] = kept
            else:
                self.events.pop(key, None)
                self.locks.pop(key, None)
        for key, expires in list(self.expirations.items()):
            if expires <= now:
                self.storage.pop(key, None)
                self.expirations.pop(key, None)
                self.locks.pop(key, None)


def storage(url: str, **options: Any) -> Storage:
    """The `limits` storage at `url` (async): `memory://` is `MemoryCounters`, anything
    else (`redis://...`) `limits`' own, with `options` (e.g. implementation, key_prefix)."""
    uri = url if url.startswith("async+") else "async+" + url
    if uri.startswith("async+memory://"):
        return MemoryCounters(uri, wrap_exceptions=bool(options.get("wrap_exceptions", False)))
    return cast(Storage, storage_from_string(uri, **options))
