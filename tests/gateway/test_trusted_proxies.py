"""The gateway's per-address rate limit counts the peer, unless the peer is a
configured proxy (GATEWAY_TRUSTED_PROXIES); then the address it forwards."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.settings import Settings
from tests.gateway.conftest import gateway, running_upstream
from tests.support.tokens import TestIssuer


async def _statuses(forwarded_for: list[str], **settings: Any) -> list[int]:
    async with (
        running_upstream() as (upstream, url),
        gateway(TestIssuer(), upstream, url, rate_limit_per_address="2/minute", **settings) as edge,
    ):
        return [
            (
                await edge.client.get("/claims/v1/claims", headers={"X-Forwarded-For": address})
            ).status_code
            for address in forwarded_for
        ]


async def test_rotating_x_forwarded_for_is_ignored_by_default() -> None:
    statuses = await _statuses([f"203.0.113.{n}" for n in range(1, 5)])
    assert statuses == [401, 401, 429, 429]


async def test_a_configured_proxy_is_believed() -> None:
    proxied = {"trusted_proxies": ["127.0.0.0/8"]}
    assert await _statuses([f"203.0.113.{n}" for n in range(1, 5)], **proxied) == [401] * 4
    assert await _statuses(["198.51.100.9"] * 3, **proxied) == [401, 401, 429]


def test_trusted_proxies_are_read_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().trusted_proxies == []
    monkeypatch.setenv("GATEWAY_TRUSTED_PROXIES", "10.0.0.5, 10.1.0.0/16")
    assert Settings().trusted_proxies == ["10.0.0.5", "10.1.0.0/16"]
    monkeypatch.setenv("GATEWAY_TRUSTED_PROXIES", "proxy.internal")
    with pytest.raises(ValueError, match="not an IP address"):
        Settings()
