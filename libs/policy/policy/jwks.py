"""A cached JSON Web Key Set (RFC 7517), fetched from the issuer's `jwks_uri`.

Fetched once and kept in memory: verifying a token makes no network call. An
unknown `kid` (a key rotated in at the issuer) triggers one refetch, at most once
per `min_refetch_interval`, and concurrent requests share that one fetch.
"""

from __future__ import annotations

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
        min_refetch_interval: float = 30.0,
        http_client: httpx.AsyncClient | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.jwks_uri = jwks_uri
        self.min_refetch_interval = min_refetch_interval
        self._client = http_client or httpx.AsyncClient(timeout=timeout)
        self._owns_client = http_client is None
        self._keys: KeySet | None = None
        self._fetched_at = float("-inf")
        self._lock = anyio.Lock()
        self.fetch_count = 0

    @property
    def loaded(self) -> bool:
        return self._keys is not None

    async def aclose(self) -> None:
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
        async with self._lock:
            await self._fetch()

    async def get(self, kid: str) -> Key | None:
        """The key with this kid, refetching once if it is unknown (rate-limited)."""
        key = self._lookup(kid)
        if key is not None:
            return key
        async with self._lock:
            key = self._lookup(kid)
            if key is not None:
                return key
            if (
                time.monotonic() - self._fetched_at >= self.min_refetch_interval
                or self._keys is None
            ):
                await self._fetch()
        return self._lookup(kid)

    def _lookup(self, kid: str) -> Key | None:
        if self._keys is None:
            return None
        for key in self._keys.keys:
            if key.kid == kid:
                return key
        return None
