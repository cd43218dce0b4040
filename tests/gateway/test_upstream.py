"""The upstream pools: timeouts and limits from settings, connections kept alive and reused."""

from __future__ import annotations

import asyncio

from gateway.settings import Settings
from gateway.upstream import Upstreams
from tests.gateway.conftest import gateway, running_upstream
from tests.support.tokens import TestIssuer


async def test_timeouts_and_limits_come_from_settings() -> None:
    settings = Settings(
        upstream_timeout=4.0,
        connect_timeout=1.5,
        pool_timeout=0.5,
        max_connections=40,
        claims_max_connections=7,
    )
    upstreams = Upstreams(settings)
    try:
        for name, connections in (("eligibility", 40), ("claims", 7)):
            pool = upstreams[name]
            timeout = pool.session.timeout
            assert (timeout.sock_connect, timeout.sock_read, timeout.total) == (1.5, 4.0, None)
            assert pool.limits.pool_timeout == 0.5
            assert pool.limits.max_connections == connections
            assert pool.session.connector is not None
            assert pool.session.connector.limit == connections
        assert upstreams["eligibility"].session is not upstreams["claims"].session
    finally:
        await upstreams.aclose()


async def test_requests_reuse_a_pooled_connection_per_upstream() -> None:
    """Both upstreams at one address still get a pool each: one kept-alive connection each."""
    async with (
        running_upstream() as (upstream, url),
        gateway(TestIssuer(), upstream, url) as edge,
    ):
        for path in ("/claims/v1/a", "/eligibility/v1/b", "/claims/v1/c", "/eligibility/v1/d"):
            assert (await edge.client.get(path, headers=edge.auth())).status_code == 200
        peers: dict[str, set[int]] = {}
        for seen in upstream.seen:
            peers.setdefault(seen["path"].split("/")[1], set()).add(seen["peer"])
        assert len(upstream.seen) == 4
        assert len(peers["claims"]) == 1 and len(peers["eligibility"]) == 1, "kept alive"
        assert peers["claims"] != peers["eligibility"], "a pool per upstream"


async def test_without_keepalive_each_request_opens_a_connection() -> None:
    async with (
        running_upstream() as (upstream, url),
        gateway(TestIssuer(), upstream, url, max_keepalive_connections=0) as edge,
    ):
        for _ in range(3):
            assert (await edge.client.get("/claims/v1/c", headers=edge.auth())).status_code == 200
        assert len({seen["peer"] for seen in upstream.seen}) == 3


async def test_a_slow_upstream_does_not_hold_up_another() -> None:
    """Eligibility holds its only connection; claims still answers through the gateway."""
    async with (
        running_upstream() as (upstream, url),
        gateway(
            TestIssuer(), upstream, url, max_connections=1, pool_timeout=30, upstream_timeout=30
        ) as edge,
    ):
        slow = asyncio.create_task(edge.client.get("/eligibility/v1/slow", headers=edge.auth()))
        await asyncio.wait_for(upstream.arrived.wait(), 10)
        claims = await asyncio.wait_for(edge.client.get("/claims/v1/c", headers=edge.auth()), 10)
        assert claims.status_code == 200
        assert claims.json() == {"ok": True}
        assert not slow.done(), "eligibility's exchange is still in progress"
        upstream.release.set()
        assert (await asyncio.wait_for(slow, 10)).status_code == 200


async def test_a_full_pool_is_503_with_retry_after() -> None:
    """Past the pool timeout with every connection busy: 503, not a 504 "timed out"."""
    async with (
        running_upstream() as (upstream, url),
        gateway(
            TestIssuer(),
            upstream,
            url,
            eligibility_max_connections=1,
            pool_timeout=0.2,
            pool_retry_after=3,
            upstream_timeout=30,
        ) as edge,
    ):
        slow = asyncio.create_task(edge.client.get("/eligibility/v1/slow", headers=edge.auth()))
        await asyncio.wait_for(upstream.arrived.wait(), 10)
        busy = await edge.client.get(
            "/eligibility/v1/inquiries", headers={**edge.auth(), "X-Request-ID": "busy-1"}
        )
        assert busy.status_code == 503
        assert busy.headers["content-type"] == "application/problem+json"
        assert busy.headers["retry-after"] == "3"
        assert busy.json()["type"] == "https://tinpass.dev/problems/upstream-busy"
        assert busy.json()["request_id"] == busy.headers["x-request-id"] == "busy-1"
        assert len(upstream.seen) == 1, "the refused request never reached the upstream"
        claims = await edge.client.get("/claims/v1/c", headers=edge.auth())
        assert claims.status_code == 200, "claims has its own pool"
        upstream.release.set()
        assert (await asyncio.wait_for(slow, 10)).status_code == 200
        again = await edge.client.get("/eligibility/v1/inquiries", headers=edge.auth())
        assert again.status_code == 200, "the freed connection serves the next request"


async def test_path_and_query_are_passed_on_as_sent() -> None:
    """Percent-encoded path, repeated query parameters, an empty POST body: all kept."""
    async with (
        running_upstream() as (upstream, url),
        gateway(TestIssuer(), upstream, url, on_port=True) as edge,
    ):
        reply = await edge.client.get("/claims/v1/a%20b%2Fc?x=1&x=2&y=%C3%A9", headers=edge.auth())
        assert reply.status_code == 200
        empty = await edge.client.post("/eligibility/v1/e", headers=edge.auth())
        assert empty.status_code == 200
    got, posted = upstream.seen
    assert (got["path"], got["query"]) == ("/claims/v1/a b/c", "x=1&x=2&y=%C3%A9")
    assert (posted["method"], posted["body"], posted["headers"]["content-length"]) == (
        "POST",
        b"",
        "0",
    )
