"""A store a service can run without for a while (Redis): its state, its alert metric,
and the probe that notices it is back.

`Dependency` is told when a call to the store failed (`failed`). The first failure
makes it *down*: one warning line (`dependency.down`), the gauge
`tinpass_degraded{component=...}` raised, one transition counted in
`tinpass_degraded_transitions_total`, and a probe started in the background that
calls the store's own health check every `retry_interval` seconds, so no request
pays for a failed connect while the store is down. When the probe succeeds it is
*up* again: one line (`dependency.restored`), the gauge lowered, one more
transition. What callers do while it is down is theirs to decide (docs/operations.md,
"When Redis is down"): the rate limits count in process memory
(`policy.ratelimit_fallback`), the portal answers 503.

Both metrics live in prometheus_client's default registry; the gauge is the number
of this process's stores of that component that are down (1 in a deployed process),
and takes the largest live value across worker processes in multiprocess mode.

`redis_options(timeout)` are the client options every Redis client of TINpass is made
with: connect and socket timeouts, and no retries (a retry would double the time a
hung Redis holds a request; a connection Redis closed is replaced by the pool itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import Counter, Gauge
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

log = logging.getLogger(__name__)

DEGRADED = Gauge(
    "tinpass_degraded",
    "Stores of this component the process is running without (1: falling back or "
    "answering 503 for them; docs/operations.md, 'When Redis is down').",
    ["component"],
    multiprocess_mode="livemax",
)
TRANSITIONS = Counter(
    "tinpass_degraded_transitions_total",
    "Times a store of this component went down or came back.",
    ["component"],
)


def redis_options(timeout: float) -> dict[str, Any]:
    """Options for `redis.asyncio` clients (and `limits`' Redis storage): a Redis that
    refuses or hangs costs a call at most `timeout` seconds to connect and as much to
    answer, never a retry."""
    return {
        "socket_connect_timeout": timeout,
        "socket_timeout": timeout,
        "retry": Retry(NoBackoff(), 0),
    }


class Dependency:
    """Whether a store is up, as the last call or probe found it."""

    def __init__(
        self,
        component: str,
        probe: Callable[[], Awaitable[bool]],
        retry_interval: float,
    ) -> None:
        self.component, self.probe, self.retry_interval = component, probe, retry_interval
        self.down_since: float | None = None
        self._prober: asyncio.Task[None] | None = None
        DEGRADED.labels(component)  # the series exists (at 0) before any outage

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failed(self, error: BaseException) -> None:
        """A call to the store failed: go down (once) and start probing for its return."""
        if self.down_since is not None:
            return
        self.down_since = time.time()
        DEGRADED.labels(self.component).inc()
        TRANSITIONS.labels(self.component).inc()
        log.warning(
            "dependency.down",
            extra={
                "event": "dependency.down",
                "component": self.component,
                "error": type(error).__name__,
                "retry_interval": self.retry_interval,
            },
        )
        self._prober = asyncio.get_running_loop().create_task(self._probe_until_up())

    async def _probe_until_up(self) -> None:
        while True:
            await asyncio.sleep(self.retry_interval)
            try:
                up = await self.probe()
            except Exception:  # a probe that raises found the store still down
                up = False
            if up:
                self._restored()
                return

    def _restored(self) -> None:
        since, self.down_since, self._prober = self.down_since, None, None
        DEGRADED.labels(self.component).dec()
        TRANSITIONS.labels(self.component).inc()
        log.warning(
            "dependency.restored",
            extra={
                "event": "dependency.restored",
                "component": self.component,
                "down_for": round(time.time() - (since or time.time()), 1),
            },
        )

    def status(self) -> dict[str, Any]:
        """For a status body: `{"state": "up"}` or `{"state": "down", "since": <epoch>}`."""
        if self.down_since is None:
            return {"state": "up"}
        return {"state": "down", "since": int(self.down_since)}

    async def aclose(self) -> None:
        """Stop probing (at shutdown); a store still down stays counted as down no more."""
        prober, self._prober = self._prober, None
        if prober is not None:
            prober.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await prober
        if self.down_since is not None:
            self.down_since = None
            DEGRADED.labels(self.component).dec()
