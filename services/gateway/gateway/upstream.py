"""The edge's upstreams: one keep-alive connection pool per upstream, each with its limits.

Each upstream (eligibility, claims) has its own aiohttp client session and
connection pool, so a slow upstream holding all of its connections cannot make
requests to another one wait. A request first takes one of its upstream's slots
(as many as the pool may open); when none frees up within `pool_timeout` the
upstream is busy (`UpstreamBusy`, a 503 with Retry-After at the edge), which is
not the same as an upstream that took too long to answer (`UpstreamTimeout`, 504)
or one that cannot be reached (`UpstreamUnreachable`, 502).

Timeouts: `connect_timeout` bounds each TCP connect, `upstream_timeout` each read
of the answer, and the caller's `deadline` the whole exchange, body included
(read whole: answers are small JSON documents).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

import aiohttp
from yarl import URL

from gateway.settings import Settings
from policy import tracing

UPSTREAMS = ("eligibility", "claims")
Headers = Iterable[tuple[str, str]]


class UpstreamError(Exception):
    def __init__(self, upstream: str) -> None:
        super().__init__(upstream)
        self.upstream = upstream


class UpstreamBusy(UpstreamError):
    """Every connection of the upstream's pool stayed in use for `pool_timeout`."""


class UpstreamTimeout(UpstreamError):
    """No answer (or no next byte of it) in time."""


class UpstreamUnreachable(UpstreamError):
    """Refused, reset or closed: no answer came."""


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: tuple[tuple[bytes, bytes], ...]  # as received (names in their original case)
    body: bytes


@dataclass(frozen=True)
class Limits:
    max_connections: int
    keepalive: bool
    keepalive_expiry: float
    connect_timeout: float
    read_timeout: float
    pool_timeout: float


def limits_of(settings: Settings, name: str) -> Limits:
    """The pool limits of upstream `name`: its own connection limit when set."""
    own = getattr(settings, f"{name}_max_connections")
    return Limits(
        max_connections=own or settings.max_connections,
        keepalive=settings.max_keepalive_connections > 0 and settings.keepalive_expiry > 0,
        keepalive_expiry=settings.keepalive_expiry,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.upstream_timeout,
        pool_timeout=settings.pool_timeout,
    )


class Pool:
    """One upstream's connections (HTTP/1.1 keep-alive) and the slots that bound them."""

    def __init__(self, name: str, base_url: str, limits: Limits) -> None:
        self.name = name
        self.base = base_url.rstrip("/")
        self.limits = limits
        self._slots = asyncio.Semaphore(limits.max_connections)
        connector = aiohttp.TCPConnector(
            limit=limits.max_connections,
            limit_per_host=0,
            force_close=not limits.keepalive,
            keepalive_timeout=limits.keepalive_expiry if limits.keepalive else None,
        )
        self.session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=None,
                sock_connect=limits.connect_timeout,
                sock_read=limits.read_timeout,
            ),
            cookie_jar=aiohttp.DummyCookieJar(),  # one client for every caller: keep no cookies
            trust_env=False,
            trace_configs=tracing.aiohttp_trace_configs("gateway") or None,  # traceparent
        )

    async def _take_slot(self) -> None:
        if not self._slots.locked():
            await self._slots.acquire()  # free: returns at once
            return
        try:
            async with asyncio.timeout(self.limits.pool_timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise UpstreamBusy(self.name) from None

    async def exchange(
        self, method: str, target: str, headers: Headers, body: bytes, deadline: float
    ) -> Reply:
        """Send one request (`target`: the path, already encoded, and query) and read
        the whole answer within `deadline` seconds."""
        await self._take_slot()
        try:
            async with asyncio.timeout(deadline):
                return await self._send(method, target, headers, body)
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise UpstreamTimeout(self.name) from None
        except (aiohttp.ClientError, OSError):
            raise UpstreamUnreachable(self.name) from None
        finally:
            self._slots.release()

    async def _send(self, method: str, target: str, headers: Headers, body: bytes) -> Reply:
        async with self.session.request(
            method,
            URL(self.base + target, encoded=True),
            headers=list(headers),
            data=body or None,
            allow_redirects=False,
        ) as reply:
            content = await reply.read()
            return Reply(reply.status, reply.raw_headers, content)

    async def aclose(self) -> None:
        await self.session.close()


class Upstreams:
    """The pools of every upstream, by name."""

    def __init__(self, settings: Settings) -> None:
        urls = {"eligibility": settings.eligibility_url, "claims": settings.claims_url}
        self.pools = {name: Pool(name, urls[name], limits_of(settings, name)) for name in UPSTREAMS}

    def __getitem__(self, name: str) -> Pool:
        return self.pools[name]

    async def aclose(self) -> None:
        for pool in self.pools.values():
            await pool.aclose()
