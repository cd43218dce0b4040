"""Rate limits per client and per address: memory by default, shared through Redis."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any
from unittest.mock import ANY, patch

import httpx
import pytest
from limits.aio.storage import MemoryStorage, RedisStorage

from gateway.ratelimit import RateLimits
from gateway.settings import Settings
from policy.counters import MemoryCounters
from policy.ratelimit_fallback import COMPONENT
from tests.gateway.conftest import Edge, gateway, running_upstream
from tests.support.faultproxy import FaultProxy
from tests.support.redis import degraded_gauge, redis_proxy, require_redis, until_up
from tests.support.tokens import TestIssuer

RATE_LIMITED = "https://tinpass.dev/problems/rate-limited"


@asynccontextmanager
async def gateways(count: int, **overrides: Any) -> AsyncIterator[list[Edge]]:
    """`count` gateway instances (each its own app and limiter) before one recording upstream."""
    issuer = TestIssuer()
    async with AsyncExitStack() as stack:
        upstream, url = await stack.enter_async_context(running_upstream())
        yield [
            await stack.enter_async_context(gateway(issuer, upstream, url, **overrides))
            for _ in range(count)
        ]


@pytest.fixture
async def shared_redis() -> AsyncIterator[dict[str, str]]:
    """A Redis URL and a key prefix of this test's own; its keys are removed afterwards."""
    url = await require_redis()
    prefix = f"test-gateway-{uuid.uuid4().hex}"
    yield {"rate_limit_storage_url": url, "rate_limit_key_prefix": prefix}
    limits = RateLimits.from_settings(
        Settings(rate_limit_storage_url=url, rate_limit_key_prefix=prefix)
    )
    await limits.reset()
    await limits.aclose()


def assert_rate_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == RATE_LIMITED
    assert body["status"] == 429
    assert body["request_id"] == response.headers["x-request-id"]
    wait = int(response.headers["retry-after"])
    assert 30 < wait <= 60, "a per-minute window filled moments ago has about a minute to go"
    assert f"Retry in {wait} s" in body["detail"]


async def test_two_instances_sharing_redis_count_a_client_jointly(
    shared_redis: dict[str, str],
) -> None:
    """Two gateways served on real ports, as two replicas behind a load balancer would be."""
    async with gateways(
        2, on_port=True, rate_limit_per_client="3/minute", rate_limit_per_address="", **shared_redis
    ) as (first, second):
        assert first.client.base_url != second.client.base_url
        headers = first.auth(client_id="acme-integrator")
        statuses = [
            (await edge.client.get("/claims/v1/claims", headers=headers)).status_code
            for edge in (first, second, first)
        ]
        assert statuses == [200, 200, 200]
        refused = await second.client.get("/claims/v1/claims", headers=headers)
        assert_rate_limited(refused)
        assert "this client" in refused.json()["detail"]
        assert len(first.upstream.seen) == 3, "the refused request never reached the upstream"
        other_client = await second.client.get(
            "/claims/v1/claims", headers=first.auth(client_id="portal")
        )
        assert other_client.status_code == 200


async def test_two_instances_sharing_redis_count_an_address_jointly(
    shared_redis: dict[str, str],
) -> None:
    async with gateways(
        2, rate_limit_per_address="2/minute", rate_limit_per_client="", **shared_redis
    ) as (first, second):
        assert (await first.client.get("/claims/v1/claims")).status_code == 401
        ok = await second.client.get("/claims/v1/claims", headers=first.auth(client_id="a"))
        assert ok.status_code == 200
        refused = await first.client.get("/claims/v1/claims", headers=first.auth(client_id="b"))
        assert_rate_limited(refused)
        assert "this address" in refused.json()["detail"]
        assert len(first.upstream.seen) == 1


async def test_address_limit_applies_before_the_token_is_checked() -> None:
    async with gateways(1, rate_limit_per_address="2/minute") as (edge,):
        for _ in range(2):
            assert (await edge.client.get("/eligibility/v1/x")).status_code == 401
        assert_rate_limited(await edge.client.get("/eligibility/v1/x", headers=edge.auth()))
        assert edge.upstream.seen == []


async def test_each_address_has_its_own_count() -> None:
    issuer = TestIssuer()
    async with (
        running_upstream() as (upstream, url),
        gateway(issuer, upstream, url, rate_limit_per_address="1/minute") as edge,
        gateway(
            issuer,
            upstream,
            url,
            rate_limit_per_address="1/minute",
            client_address=("10.0.0.7", 50001),
        ) as elsewhere,
    ):
        assert (await edge.client.get("/claims/v1/claims", headers=edge.auth())).status_code == 200
        assert_rate_limited(await edge.client.get("/claims/v1/claims", headers=edge.auth()))
        other = await elsewhere.client.get("/claims/v1/claims", headers=edge.auth())
        assert other.status_code == 200


async def test_memory_is_the_default_and_counts_per_instance() -> None:
    settings = Settings()
    assert settings.rate_limit_storage_url == "memory://"
    limits = RateLimits.from_settings(settings)
    assert isinstance(limits.storage, MemoryStorage)
    async with gateways(2, rate_limit_per_client="1/minute") as (first, second):
        headers = first.auth()
        assert (await first.client.get("/claims/v1/claims", headers=headers)).status_code == 200
        assert_rate_limited(await first.client.get("/claims/v1/claims", headers=headers))
        again = await second.client.get("/claims/v1/claims", headers=headers)
        assert again.status_code == 200, "in memory, each instance keeps its own counters"


async def test_redis_url_selects_shared_storage_under_the_prefix() -> None:
    limits = RateLimits.from_settings(
        Settings(rate_limit_storage_url="redis://127.0.0.1:6379/3", rate_limit_key_prefix="plan-a")
    )
    try:
        assert isinstance(limits.storage, RedisStorage)
        assert limits.storage.bridge.key_prefix == "plan-a"
    finally:
        await limits.aclose()


@pytest.fixture
async def proxied_redis() -> AsyncIterator[tuple[FaultProxy, dict[str, Any]]]:
    """Gateway settings counting in Redis behind a fault proxy (short timeout and retry
    interval, a key prefix of this test's own), and the proxy."""
    url = await require_redis()
    prefix = f"test-gateway-{uuid.uuid4().hex}"
    with redis_proxy(url) as (proxy, through):
        yield (
            proxy,
            {
                "rate_limit_storage_url": through,
                "rate_limit_key_prefix": prefix,
                "redis_timeout": 0.2,
                "redis_retry_interval": 0.2,
            },
        )
    limits = RateLimits.from_settings(
        Settings(rate_limit_storage_url=url, rate_limit_key_prefix=prefix)
    )
    await limits.reset()
    await limits.aclose()


async def claims(edge: Edge, client_id: str, count: int) -> list[int]:
    headers = edge.auth(client_id=client_id)
    return [
        (await edge.client.get("/claims/v1/claims", headers=headers)).status_code
        for _ in range(count)
    ]


@pytest.mark.parametrize("fault", ["refuse", "blackhole"])
async def test_with_redis_down_the_limits_hold_per_process_and_come_back_shared(
    proxied_redis: tuple[FaultProxy, dict[str, Any]], fault: str
) -> None:
    """The APIs keep answering and limited while Redis is refused or hung; readiness
    holds and shows the store down; once Redis is back both replicas count together."""
    proxy, shared = proxied_redis
    async with gateways(
        2, rate_limit_per_client="3/minute", rate_limit_per_address="", **shared
    ) as (first, second):
        gauge = degraded_gauge(COMPONENT)
        proxy.mode = fault  # type: ignore[assignment]
        assert await claims(first, "acme", 4) == [200, 200, 200, 429], "limited in this process"
        assert await claims(second, "acme", 3) == [200, 200, 200], "and apart in the other"
        readiness = await first.client.get("/readyz")
        assert readiness.status_code == 200, "a rate-limit store never makes a replica unready"
        assert readiness.json()["stores"] == {COMPONENT: {"state": "down", "since": ANY}}
        assert degraded_gauge(COMPONENT) == gauge + 2

        proxy.cut()
        proxy.mode = "pass"
        for edge in (first, second):
            assert edge.app is not None
            await until_up(edge.app.state.rate_limits.health)
        assert degraded_gauge(COMPONENT) == gauge
        statuses = [*await claims(first, "portal", 2), *await claims(second, "portal", 2)]
        assert statuses == [200, 200, 200, 429], "3/minute for the client across replicas"


async def test_retry_after_follows_the_window_that_refused() -> None:
    limits = RateLimits.from_settings(Settings(rate_limit_per_client="5/minute;2/hour"))
    assert [await limits.wait("client", "acme") for _ in range(2)] == [None, None]
    wait = await limits.wait("client", "acme")
    assert wait is not None and 3000 < wait <= 3600, "the hourly window is the one that is full"
    assert await limits.wait("client", "another") is None


async def test_memory_counters_sweep_expired_entries_on_the_loop() -> None:
    """The in-process counters drop what has left every window, at most once a second,
    without a worker thread; what is still in a window keeps counting."""
    limits = RateLimits.from_settings(Settings(rate_limit_per_client="2/second;3/minute"))
    storage = limits.storage
    assert isinstance(storage, MemoryCounters)
    assert [await limits.wait("client", "acme") for _ in range(2)] == [None, None]
    assert await limits.wait("client", "acme") == 1  # the per-second window is full
    storage._sweep(time.time() + 2)  # the per-second entries expired; the minute's did not
    assert await limits.wait("client", "acme") is not None, "the minute's window is full"
    storage._sweep(time.time() + 61)
    assert storage.events == {} and await limits.wait("client", "acme") is None
    with patch("asyncio.to_thread", side_effect=AssertionError("no thread hop")):
        storage._swept_at = 0.0
        assert await limits.wait("client", "other") is None


async def test_limits_can_be_turned_off() -> None:
    off = RateLimits.from_settings(Settings(rate_limit_per_client="", rate_limit_per_address=""))
    assert off.items == {"address": [], "client": []}
    assert await off.wait("client", "portal") is None
    async with gateways(1, rate_limit_per_client="", rate_limit_per_address="") as (edge,):
        for _ in range(3):
            assert (await edge.client.get("/claims/v1/c", headers=edge.auth())).status_code == 200


BATCH = "/eligibility/v1/inquiries/batch"


def inquiries(count: int) -> dict[str, Any]:
    return {"inquiries": [{"member_id": "M1000101", "date_of_birth": "1990-01-01"}] * count}


async def test_each_inquiry_of_a_batch_counts_against_the_client(
    shared_redis: dict[str, str],
) -> None:
    """A batch of N costs N, counted jointly by the replicas sharing Redis."""
    async with gateways(
        2, rate_limit_per_client="10/minute", rate_limit_per_address="", **shared_redis
    ) as (first, second):
        headers = first.auth(client_id="batcher")
        assert (
            await first.client.post(BATCH, json=inquiries(8), headers=headers)
        ).status_code == 200
        refused = await second.client.post(BATCH, json=inquiries(3), headers=headers)
        assert_rate_limited(refused)
        assert "this client" in refused.json()["detail"]
        for _ in range(2):  # 8 + 1 + 1 fill the window of 10
            answer = await second.client.post(BATCH, json=inquiries(1), headers=headers)
            assert answer.status_code == 200
        assert_rate_limited(await first.client.get("/claims/v1/claims", headers=headers))
        assert len(first.upstream.seen) == 3, "refused batches never reached the eligibility app"


async def test_a_body_that_is_no_batch_costs_one() -> None:
    async with gateways(1, rate_limit_per_client="2/minute") as (edge,):
        headers = edge.auth()
        for body in (b"not json", b'{"inquiries": "many"}'):
            response = await edge.client.post(BATCH, content=body, headers=headers)
            assert response.status_code == 200, "the eligibility app answers it (with a 422)"
        assert_rate_limited(await edge.client.post(BATCH, content=b"[]", headers=headers))
