"""The one pooled HTTP client the edge reaches its upstreams with."""

from __future__ import annotations

import httpx

from gateway.settings import Settings


def build_client(settings: Settings) -> httpx.AsyncClient:
    """Keep-alive pool with connect, read/write and pool-wait timeouts from settings.

    The per-operation timeouts bound each connect, read and write; the whole
    exchange is bounded separately by `upstream_deadline` where the request is sent.
    """
    return httpx.AsyncClient(
        timeout=httpx.Timeout(
            settings.upstream_timeout,
            connect=settings.connect_timeout,
            pool=settings.pool_timeout,
        ),
        limits=httpx.Limits(
            max_connections=settings.max_connections,
            max_keepalive_connections=settings.max_keepalive_connections,
            keepalive_expiry=settings.keepalive_expiry,
        ),
        follow_redirects=False,
        trust_env=False,
    )
