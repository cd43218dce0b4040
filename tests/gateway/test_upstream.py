"""The pooled upstream client: timeouts from settings, connections kept alive and reused."""

from __future__ import annotations

import httpx

from gateway.settings import Settings
from gateway.upstream import build_client
from tests.gateway.conftest import gateway, running_upstream
from tests.support.tokens import TestIssuer


async def test_timeouts_come_from_settings() -> None:
    settings = Settings(upstream_timeout=4.0, connect_timeout=1.5, pool_timeout=0.5)
    async with build_client(settings) as client:
        assert client.timeout == httpx.Timeout(4.0, connect=1.5, pool=0.5)
        assert client.follow_redirects is False


async def test_requests_reuse_a_pooled_connection() -> None:
    async with (
        running_upstream() as (upstream, url),
        gateway(TestIssuer(), upstream, url) as edge,
    ):
        for path in ("/claims/v1/claims", "/eligibility/v1/inquiries", "/claims/v1/claims"):
            assert (await edge.client.get(path, headers=edge.auth())).status_code == 200
        peers = {seen["peer"] for seen in upstream.seen}
        assert len(upstream.seen) == 3 and len(peers) == 1, "one kept-alive connection"


async def test_without_keepalive_each_request_opens_a_connection() -> None:
    async with (
        running_upstream() as (upstream, url),
        gateway(TestIssuer(), upstream, url, max_keepalive_connections=0) as edge,
    ):
        for _ in range(3):
            assert (await edge.client.get("/claims/v1/c", headers=edge.auth())).status_code == 200
        assert len({seen["peer"] for seen in upstream.seen}) == 3
