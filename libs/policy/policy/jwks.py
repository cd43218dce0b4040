"""A cached JSON Web Key Set (RFC 7517), fetched from the issuer's `jwks_uri`.

Kept in memory: verifying a token makes no network call. The set is refreshed on
a schedule, every `refresh_interval` seconds, by a background task started with
`prime()`/`start()`. The issuer publishes a key (as `next`) before it signs with
it, so when the refresh interval is shorter than that publication lead time,
every key that signs a token is already known and no valid token is refused.

An unknown `kid` comes from a token whose signature cannot be checked, so anyone
can make one up: it may trigger an out-of-schedule refetch only when the keys
were last fetched `min_refetch_interval` ago or more (a key rotated in without
notice), concurrent callers
share that fetch, and any other unknown `kid` is refused at once without waiting,
so a flood of made-up kids costs at most one fetch per interval and never delays
the scheduled refresh or requests whose keys are known.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, cast

import anyio
import httpx
from joserfc.jwk import Key, KeySet, KeySetSerialization


class JWKSUnavailable(Exception):
    """The key set could not be fetched or parsed."""


class JWKSCache:
    def __init__(
        self,
        jwks_uri: str,
        *,
        refresh_interval: float = 300.0,
        min_refetch_interval: float = 30.0,
        http_client: httpx.AsyncClient | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.jwks_uri = jwks_uri
        self.refresh_interval = refresh_interval
        self.min_refetch_interval = min_refetch_interval
        self._client = http_client or httpx.AsyncClient(timeout=timeout)
        self._owns_client = http_client is None
        self._keys: KeySet | None = None
        self._fetched_at = float("-inf")
        self._lock = anyio.Lock()
        self._refresher: asyncio.Task[None] | None = None
        self.fetch_count = 0
        self.refetch_count = 0

    @property
    def http_client(self) -> httpx.AsyncClient:
        return self._client

    @property
    def loaded(self) -> bool:
        return self._keys is not None

    @property
    def kids(self) -> frozenset[str]:
        """The key ids known now."""
        keys = self._keys.keys if self._keys is not None else []
        return frozenset(k.kid for k in keys if k.kid)

    async def stop(self) -> None:
        """Stop the scheduled refresh (the keys stay; `start` or `prime` resumes it)."""
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
            self._refresher = None

    async def aclose(self) -> None:
        await self.stop()
        if self._owns_client:
            await self._client.aclose()

    async def _fetch(self) -> None:
        self.fetch_count += 1
        self._fetched_at = time.monotonic()
        try:
            response = await self._client.get(self.jwks_uri)
            response.raise_for_status()
            document: Any = response.json()
            self._keys = KeySet.import_key_set(cast(KeySetSerialization, document))
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as error:
            raise JWKSUnavailable(f"cannot load the issuer's keys from {self.jwks_uri}") from error

    async def prime(self) -> None:
        """Load the keys now and keep them fresh on the schedule (even if this load fails)."""
        self.start()
        async with self._lock:
            await self._fetch()

    def start(self) -> None:
        """Start the scheduled refresh (once; `aclose` stops it)."""
        if self._refresher is None and self.refresh_interval > 0:
            self._refresher = asyncio.get_running_loop().create_task(self._refresh_on_schedule())

    async def _refresh_on_schedule(self) -> None:
        while True:
            await anyio.sleep(self.refresh_interval)
            # A failed refresh keeps the keys it has; the next one tries again.
            with contextlib.suppress(JWKSUnavailable):
                async with self._lock:
                    await self._fetch()

    def _may_refetch(self) -> bool:
        return (
            self._keys is None or time.monotonic() - self._fetched_at >= self.min_refetch_interval
        )

    async def get(self, kid: str) -> Key | None:
        """The key with this kid; an unknown kid refetches only within the budget."""
        key = self._lookup(kid)
        if key is not None or not self._may_refetch():
            return key
        async with self._lock:
            key = self._lookup(kid)
            if key is None and self._may_refetch():
                if self._keys is not None:  # not the first load
                    self.refetch_count += 1
                await self._fetch()
        return self._lookup(kid)

    def _lookup(self, kid: str) -> Key | None:
        if self._keys is None:
            return None
        for key in self._keys.keys:
            if key.kid == kid:
                return key
        return None
