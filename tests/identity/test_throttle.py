"""Sign-in does not depend on the rate limits' Redis (docs/operations.md, "When Redis is
down"): with Redis refused or hung, /token and the login form answer as usual and stay
limited per process, readiness holds and shows the store down, and once Redis is
back two replicas count in it together again."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from identity.app import create_app
from policy.ratelimit_fallback import COMPONENT
from tests.identity.harness import PORTAL, PORTAL_REDIRECT, IdentityHarness, running_identity
from tests.support.faultproxy import FaultProxy
from tests.support.oidc import Pkce, authorize_url, form_fields
from tests.support.redis import degraded_gauge, redis_proxy, require_redis, until_up


@pytest.fixture
async def identity_via_proxy(
    tmp_path: Path,
) -> AsyncIterator[tuple[IdentityHarness, FaultProxy]]:
    """Identity whose rate-limit counters are in Redis behind a fault proxy (short
    timeout and retry interval), with small limits for /token and the login form."""
    url = await require_redis()
    with redis_proxy(url) as (proxy, through):
        async with running_identity(
            tmp_path,
            rate_limit_storage=through,
            rate_limit_key_prefix=f"test-identity-{uuid.uuid4().hex}",
            redis_timeout=0.2,
            redis_retry_interval=0.2,
            token_rate_limit="3/minute",
            login_rate_limit="2/minute",
        ) as identity:
            try:
                yield identity, proxy
            finally:
                proxy.mode = "pass"
                await identity.app.state.throttle.reset()


async def tokens(identity: IdentityHarness, source: str, count: int) -> list[int]:
    """`count` client_credentials requests from `source`: their statuses."""
    secret = identity.credentials.curl_secret
    async with identity.client(source) as client:
        return [
            (
                await client.post(
                    "/token", data={"grant_type": "client_credentials"}, auth=("acme-curl", secret)
                )
            ).status_code
            for _ in range(count)
        ]


async def failed_logins(identity: IdentityHarness, source: str, count: int) -> list[int]:
    """`count` wrong passwords on the login form from `source`: their statuses."""
    statuses = []
    async with identity.client(source) as browser:
        for _ in range(count):
            page = await browser.get(authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new()))
            fields = form_fields(page.text)
            action = fields.pop("__action__")
            fields.update(username="sam.biller", password="not-the-password-1")
            statuses.append((await browser.post(page.url.join(action), data=fields)).status_code)
    return statuses


async def ready(identity: IdentityHarness) -> httpx.Response:
    async with identity.client() as client:
        return await client.get("/readyz")


@pytest.mark.parametrize("fault", ["refuse", "blackhole"])
async def test_sign_in_works_and_stays_limited_while_redis_is_down(
    identity_via_proxy: tuple[IdentityHarness, FaultProxy], fault: str
) -> None:
    identity, proxy = identity_via_proxy
    gauge = degraded_gauge(COMPONENT)
    assert (await ready(identity)).json()["stores"] == {COMPONENT: {"state": "up"}}
    assert await tokens(identity, "10.1.0.1", 1) == [200]  # counted in Redis

    proxy.mode = fault  # type: ignore[assignment]
    assert await tokens(identity, "10.1.0.2", 4) == [200, 200, 200, 429]
    assert await failed_logins(identity, "10.1.0.2", 3) == [401, 401, 429]
    readiness = await ready(identity)
    assert readiness.status_code == 200, "a rate-limit store never makes a replica unready"
    assert readiness.json()["stores"][COMPONENT]["state"] == "down"
    assert degraded_gauge(COMPONENT) == gauge + 1

    proxy.cut()
    proxy.mode = "pass"
    await until_up(identity.app.state.throttle.health)
    assert (await ready(identity)).json()["stores"] == {COMPONENT: {"state": "up"}}
    assert degraded_gauge(COMPONENT) == gauge


async def test_after_an_outage_two_replicas_share_the_redis_counters_again(
    identity_via_proxy: tuple[IdentityHarness, FaultProxy],
) -> None:
    identity, proxy = identity_via_proxy
    second = IdentityHarness(
        create_app(identity.settings), identity.settings, identity.credentials, identity.data_dir
    )
    async with second.app.router.lifespan_context(second.app):
        with proxy.fault("refuse"):
            assert await tokens(identity, "10.2.0.1", 2) == [200, 200]  # each in its memory
            assert await tokens(second, "10.2.0.1", 3) == [200, 200, 200]
        for replica in (identity, second):
            await until_up(replica.app.state.throttle.health)
        statuses = [
            *await tokens(identity, "10.2.0.9", 2),
            *await tokens(second, "10.2.0.9", 1),
            *await tokens(identity, "10.2.0.9", 1),
        ]
        assert statuses == [200, 200, 200, 429], "3/minute for the address across replicas"
