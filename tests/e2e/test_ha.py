"""Replicas behind nginx (deploy.ha, `make run-ha`): two replicas of identity and of
the plan's eligibility, claims and gateway, on PostgreSQL and Redis, every request
through Debian's nginx.

A person signs in (authorization code with PKCE), refreshes, checks eligibility and
submits claims while nginx's X-Upstream headers show both replicas of every service
answering; then, under a steady load, one replica of each service is killed with
SIGKILL: only requests in flight at that moment may fail, every claim exists exactly
once, both audit trails verify; finally the person signs out and the session is gone
at both identity replicas.

Runs in the PostgreSQL pass (TINPASS_TEST_DB=postgresql); nginx comes from
deploy/ensure_nginx.sh (deploy/test.sh). Skipped when nginx cannot be installed,
except in CI (CI=true or TINPASS_REQUIRE_POSTGRES=1), where that fails.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis

from deploy import nginx
from deploy.ha import HaStack
from deploy.stack import BIN, free_port
from tests.e2e.conftest import ONE_PLAN, OUTPUT
from tests.e2e.ha_load import KINDS, Family, Load, answering, claim_body
from tests.support.databases import db_kind, fresh_database
from tests.support.oidc import Pkce, authorize_url, query_of, sign_in
from tests.support.redis import require_redis

pytestmark = [pytest.mark.e2e, pytest.mark.ha, pytest.mark.timeout(300)]

PASSWORD = "Demo.Passw0rd-2026"
SCOPE = "openid offline_access eligibility:read claims:read claims:write"
SPOOFED = "203.0.113.9"  # an X-Forwarded-For the client makes up: nginx's is believed
LOOPS = 8


def require_nginx() -> None:
    if nginx.binary() is not None:
        return
    if os.environ.get("CI") == "true" or os.environ.get("TINPASS_REQUIRE_POSTGRES") == "1":
        pytest.fail("nginx is required here (CI) but deploy/ensure_nginx.sh could not install it")
    pytest.skip("no nginx on this machine (deploy/ensure_nginx.sh could not install it)")


@pytest.fixture(scope="module")
async def ha(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[HaStack]:
    if db_kind() != "postgresql":
        pytest.skip("replicas share one PostgreSQL database: the PostgreSQL pass runs this")
    require_nginx()
    redis_url = await require_redis()
    tmp = tmp_path_factory.mktemp("ha")
    prefix = f"test-ha-{uuid.uuid4().hex[:12]}"
    async with (
        fresh_database("identity", tmp) as identity_db,
        fresh_database("plan", tmp) as plan_db,
    ):
        stack = HaStack(
            tmp / "data",
            identity_db,
            plan_db,
            ports={name: free_port() for name in ONE_PLAN},
            replica_ports={name: (free_port(), free_port()) for name in ONE_PLAN},
            log_dir=OUTPUT / "e2e-logs" / "ha",
            nginx_dir=OUTPUT / "e2e-logs" / "ha" / "nginx",
            redis_url=redis_url,
            key_prefix=prefix,
            start_within=120,  # eight processes starting at once on a loaded machine
            extra_env={
                # the fixed demo only (its members are all this test needs): a quick seed
                "PROVIDER_DATA_DEMO_MEMBERS": "0",
                "PROVIDER_DATA_DEMO_CLAIMS": "0",
                # a load test, not a rate-limit test (the counters still live in Redis)
                "IDENTITY_TOKEN_RATE_LIMIT": "100000/minute",
                "GATEWAY_RATE_LIMIT_PER_CLIENT": "100000/minute",
                "GATEWAY_RATE_LIMIT_PER_ADDRESS": "100000/minute",
            },
        )
        await stack.prepare()
        try:
            await stack.start()
            yield stack
        finally:
            await stack.stop()
            await _forget(redis_url, prefix)


async def _forget(redis_url: str, prefix: str) -> None:
    client = aioredis.from_url(redis_url)
    try:
        if keys := [key async for key in client.scan_iter(match=f"{prefix}*")]:
            await client.delete(*keys)
    finally:
        await client.aclose()


@dataclass
class Person:
    browser: httpx.AsyncClient  # holds identity's SSO cookie
    tokens: dict[str, Any]
    claims: dict[str, str] = field(default_factory=dict)  # patient control no. -> claim no.


@pytest.fixture(scope="module")
async def person(ha: HaStack) -> AsyncIterator[Person]:
    """sam.biller, signed in through nginx, making up an X-Forwarded-For."""
    async with httpx.AsyncClient(headers={"X-Forwarded-For": SPOOFED}, timeout=30) as browser:
        yield Person(browser, await code_tokens(ha, browser, password=PASSWORD))


def portal_auth(stack: HaStack) -> tuple[str, str]:
    return ("cascade-portal", stack.credentials()["cascade-portal"])


async def code_tokens(
    stack: HaStack, browser: httpx.AsyncClient, password: str | None = None
) -> dict[str, Any]:
    """Authorization code with PKCE (the login form when asked, else SSO), redeemed."""
    pkce, redirect_uri = Pkce.new(), stack.url("gateway") + "/portal/callback"
    url = stack.issuer + authorize_url("cascade-portal", redirect_uri, pkce, scope=SCOPE)
    back = await sign_in(browser, url, "sam.biller", password or "")
    assert back.status_code == 302 and "code=" in back.headers["location"], back.text
    token = await browser.post(
        stack.issuer + "/token",
        data={
            "grant_type": "authorization_code",
            "code": query_of(back.headers["location"])["code"],
            "redirect_uri": redirect_uri,
            "code_verifier": pkce.verifier,
        },
        auth=portal_auth(stack),
    )
    assert token.status_code == 200, token.text
    tokens: dict[str, Any] = token.json()
    return tokens


async def test_requests_alternate_between_the_replicas_of_every_service(
    ha: HaStack, person: Person
) -> None:
    browser, seen = person.browser, set[str]()
    tokens = person.tokens
    for _ in range(3):
        refreshed = await browser.post(
            ha.issuer + "/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            auth=portal_auth(ha),
        )
        assert refreshed.status_code == 200, refreshed.text
        tokens = {**tokens, **refreshed.json()}
        seen.update(answering(ha, refreshed))
    person.tokens = tokens
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    gateway = ha.url("gateway")
    for n in range(4):
        inquiry = await browser.post(
            gateway + "/eligibility/v1/inquiries",
            json={"member_id": "M1000101", "date_of_birth": "1985-04-12"},
            headers={**bearer, "X-Request-ID": f"ha-inquiry-{n}"},
        )
        assert inquiry.status_code == 200 and inquiry.json()["status"] == "active", inquiry.text
        assert inquiry.headers["x-request-id"] == f"ha-inquiry-{n}", "one id, every hop"
        body = claim_body()
        claim = await browser.post(
            gateway + "/claims/v1/claims",
            json=body,
            headers={**bearer, "Idempotency-Key": str(uuid.uuid4())},
        )
        assert claim.status_code == 201, claim.text
        person.claims[body["patient_control_number"]] = claim.json()["claim_number"]
        info = await browser.get(ha.issuer + "/userinfo", headers=bearer)
        assert info.status_code == 200, info.text
        seen.update(answering(ha, inquiry) + answering(ha, claim) + answering(ha, info))
    every = {replica for service in ONE_PLAN for replica in ha.replicas(service)}
    assert seen == every, f"answered: {sorted(seen)}"
    addresses = await _login_addresses(ha)
    # the client's own address: nginx's X-Forwarded-For believed, the made-up one not
    assert addresses == {"127.0.0.1"}, f"logins recorded from {addresses}"


async def _login_addresses(stack: HaStack) -> set[str]:
    """The source addresses identity recorded for logins."""
    connection = await asyncpg.connect(stack.identity_db.replace("+asyncpg", ""))
    try:
        rows = await connection.fetch(
            "SELECT source_address FROM audit_events WHERE event = 'login.succeeded'"
        )
    finally:
        await connection.close()
    return {row["source_address"] for row in rows}


async def test_killing_a_replica_of_each_service_fails_only_requests_in_flight(
    ha: HaStack, person: Person
) -> None:
    families = []
    for _ in range(LOOPS):  # each loop its own refresh token family (SSO: no password)
        tokens = await code_tokens(ha, person.browser)
        families.append(Family(tokens["access_token"], tokens["refresh_token"]))
    async with httpx.AsyncClient(timeout=30) as client:
        load = Load(ha, client, portal_auth(ha))
        load.began = load.now()
        loops = [asyncio.create_task(load.loop(n, f)) for n, f in enumerate(families)]
        try:
            await load.until(lambda: len(load.done_since(0)) >= 3 * LOOPS)
            victims = [f"{service}.1" for service in ONE_PLAN]
            killed_at, in_flight = load.now(), load.in_flight
            await asyncio.gather(*(ha.kill(victim) for victim in victims))
            kills_done = load.now()
            await load.until(lambda: _enough_after(load, kills_done))
        finally:
            load.stopping.set()
            await asyncio.gather(*loops)
        for family in families:  # no refresh token family was lost or revoked on the way
            await load.call("refresh", family)
    print(load.summary(killed_at, kills_done, in_flight))
    failed = [a for a in load.attempts if a.outcome == "failed"]
    outside = [a for a in failed if not (a.started < kills_done and a.ended > killed_at)]
    assert not outside, f"failed, yet not in flight at the kill: {outside}"
    assert len(failed) <= in_flight, f"{len(failed)} failed, {in_flight} in flight: {failed}"
    after = [a for a in load.done_since(kills_done) if a.outcome == "ok"]
    assert {a.kind for a in after} == set(KINDS), "every call went on after the kill"
    assert not {r for a in after for r in a.replicas} & set(victims), "none answers dead"
    await _every_claim_once(ha, {**person.claims, **load.claims})
    # Both trails verify (exit 0) while the killed identity replica comes back.
    await asyncio.gather(
        ha.command("identity", str(BIN / "identity"), "audit", "verify"),
        ha.command("claims", str(BIN / "provider-data"), "audit", "verify"),
        ha.restart("identity.1"),
    )


def _enough_after(load: Load, moment: float) -> bool:
    done = load.done_since(moment)
    return len(done) >= 4 * LOOPS and {a.kind for a in done} == set(KINDS)


async def _every_claim_once(stack: HaStack, submitted: dict[str, str]) -> None:
    connection = await asyncpg.connect(stack.plan_db.replace("+asyncpg", ""))
    try:
        rows = await connection.fetch(
            "SELECT patient_control_number, claim_number FROM claims "
            "WHERE patient_control_number LIKE 'HA-%'"
        )
    finally:
        await connection.close()
    stored = [(row["patient_control_number"], row["claim_number"]) for row in rows]
    assert len(stored) == len(set(stored)), "a claim was stored twice"
    assert dict(stored) == submitted, "every answered claim is stored, and nothing else"


async def test_logout_ends_the_session_at_both_identity_replicas(
    ha: HaStack, person: Person
) -> None:
    for replica in ha.replicas("identity"):  # the one killed is back (or comes back now)
        if ha.processes[replica].returncode is not None:
            await ha.restart(replica)
    browser, tokens = person.browser, person.tokens
    redirect_uri = ha.url("gateway") + "/portal/callback"

    async def at(replica: str) -> tuple[httpx.Response, httpx.Response]:
        url = ha.replica_url(replica)
        authorize = await browser.get(
            url + authorize_url("cascade-portal", redirect_uri, Pkce.new(), scope=SCOPE)
        )
        info = await browser.get(
            url + "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        return authorize, info

    for replica in ha.replicas("identity"):
        authorize, info = await at(replica)
        assert authorize.status_code == 302 and "code=" in authorize.headers["location"]
        assert info.status_code == 200, info.text
    logout = await browser.get(
        ha.issuer + "/logout",
        params={
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": ha.url("gateway") + "/",
        },
    )
    assert logout.status_code in (200, 302), logout.text
    for replica in ha.replicas("identity"):
        authorize, info = await at(replica)
        assert authorize.status_code == 200 and 'name="password"' in authorize.text, replica
        assert info.status_code == 401, f"{replica}: {info.text}"
