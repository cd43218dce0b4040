"""Portal sessions in Redis: what the in-memory store promises, shared by several
stores at once (the gateway's worker processes and replicas)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import redis.asyncio as aioredis

from gateway.portal import session_store
from gateway.portal.redis_sessions import RedisSessionStore
from gateway.portal.sessions import MemorySessionStore, digest
from gateway.settings import Settings
from tests.gateway.conftest import running_upstream
from tests.gateway.portal.conftest import portal_before
from tests.gateway.portal.test_backchannel import logout_token
from tests.gateway.portal.test_middleware import METADATA
from tests.support.redis import redis_proxy, require_redis, until_up


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own; its keys are removed afterwards."""
    url = await require_redis()
    name = f"test-portal-{uuid.uuid4().hex}"
    yield name
    client = aioredis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(f"{name}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def store(prefix: str, ttl: float = 3600, idle: float = 600) -> RedisSessionStore:
    return RedisSessionStore("redis://127.0.0.1:6379/0", prefix, ttl, idle)


async def test_a_session_saved_by_one_worker_loads_at_another_until_deleted(prefix: str) -> None:
    one, two = store(prefix), store(prefix)
    try:
        await one.save("s-1", {"sid": "a", "csrf": "t"})
        assert await two.load("s-1") == {"sid": "a", "csrf": "t"}
        await two.save("s-1", {"sid": "a", "csrf": "u"})
        assert await one.load("s-1") == {"sid": "a", "csrf": "u"}
        await one.delete("s-1")
        assert await two.load("s-1") is None
    finally:
        await one.aclose()
        await two.aclose()


async def test_a_back_channel_logout_at_one_worker_ends_the_session_everywhere(
    prefix: str,
) -> None:
    one, two = store(prefix), store(prefix)
    try:
        await one.save("1", {"sid": "a", "sub": "u1"})
        await one.save("2", {"sid": "b", "sub": "u1"})
        await one.save("3", {"sid": "c", "sub": "u2"})
        await one.save("4", {"sid": "a", "sub": "u3"})
        await one.save("4", {"sid": "d", "sub": "u3"})  # signed in again since
        assert await two.end_by_sid("a") == 1
        assert await one.load("1") is None and await one.load("4") is not None
        assert await two.end_by_subject("u1") == 1
        assert await one.load("2") is None
        assert await one.load("3") == {"sid": "c", "sub": "u2"}
    finally:
        await one.aclose()
        await two.aclose()


async def test_sessions_end_when_idle_and_after_their_lifetime(prefix: str) -> None:
    idle, short = store(prefix, ttl=3600, idle=0.3), store(prefix, ttl=0.6, idle=600)
    try:
        await idle.save("idle", {})
        await short.save("old", {})
        await asyncio.sleep(0.2)
        assert await idle.load("idle") == {}  # loading keeps it alive
        assert await short.load("old") == {}
        await asyncio.sleep(0.45)
        assert await idle.load("idle") is None
        assert await short.load("old") is None  # 0.65 s after it began, though used
    finally:
        await idle.aclose()
        await short.aclose()


async def test_redis_keeps_digests_not_session_ids(prefix: str) -> None:
    sessions = store(prefix)
    try:
        await sessions.save("secret-id", {"sid": "a"})
        keys = [key async for key in sessions.redis.scan_iter(f"{prefix}:*")]
        assert f"{prefix}:portal:s:{digest('secret-id')}" in keys
        assert not any("secret-id" in key for key in keys)
    finally:
        await sessions.aclose()


def test_the_store_follows_the_setting() -> None:
    assert isinstance(session_store(Settings()), MemorySessionStore)
    shared = session_store(Settings(portal_session_store_url="redis://127.0.0.1:6379/0"))
    assert isinstance(shared, RedisSessionStore)
    with pytest.raises(ValueError, match="portal session store"):
        Settings(portal_session_store_url="postgresql://db/sessions")


async def test_with_redis_down_portal_pages_answer_503_the_apis_work_and_it_recovers(
    prefix: str,
) -> None:
    """A session cannot be made up in one process: while the store is refused or hung,
    a page that needs one is a friendly 503 with Retry-After (the landing page and the
    APIs still answer, /readyz shows the store down); when Redis is back the same
    session works."""
    with redis_proxy(await require_redis()) as (proxy, through):
        async with (
            running_upstream() as (_, upstream_url),
            portal_before(
                upstream_url,
                portal_session_store_url=through,
                rate_limit_key_prefix=prefix,
                redis_timeout=0.2,
                redis_retry_interval=0.2,
            ) as portal,
        ):
            metadata = {**METADATA, "_loaded_at": time.time()}  # as Authlib loads it
            portal.app.state.portal_oauth.tinpass.server_metadata.update(metadata)
            assert (await portal.client.get("/portal/login")).status_code == 302
            cookie = portal.app.state.settings.portal_cookie_name
            assert portal.client.cookies.get(cookie), "a session in Redis"
            api = {"Authorization": f"Bearer {portal.issuer.mint()}"}
            for fault in ("refuse", "blackhole"):
                proxy.mode = fault
                assert_unavailable(await portal.client.get("/portal/"))
                async with httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=portal.app), base_url="http://portal.test"
                ) as stranger:
                    assert (await stranger.get("/portal/")).status_code == 200, "no session"
                    assert_unavailable(await stranger.get("/portal/login"))  # would save one
                    logout = await stranger.post(  # as identity sends it: no cookie
                        "/portal/backchannel-logout",
                        data={"logout_token": logout_token(portal.issuer)},
                    )
                    assert logout.status_code == 503, "identity delivers it again later"
                    assert logout.json()["error"] == "temporarily_unavailable"
                    assert logout.headers["retry-after"] == "1"
                answer = await portal.client.get("/claims/v1/claims", headers=api)
                assert answer.status_code == 200, "the APIs need no session"
                readiness = await portal.client.get("/readyz")
                assert readiness.json()["stores"]["session_store"]["state"] == "down"
                proxy.cut()
                proxy.mode = "pass"
                await until_up(portal.app.state.portal_sessions.health)
                again = await portal.client.get("/portal/login")
                assert again.status_code == 302, "the same browser's session works again"


def assert_unavailable(page: httpx.Response) -> None:
    assert page.status_code == 503, page.text
    assert page.headers["retry-after"] == "1"
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src http" in page.headers["content-security-policy"]
    assert "/static/time.js;" in page.headers["content-security-policy"]
    assert "please try again in 1 second." in page.text and "Traceback" not in page.text
