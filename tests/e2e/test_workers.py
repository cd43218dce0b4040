"""Production serving: every service with two worker processes (uvicorn --workers),
the gateway's portal sessions in Redis. A browser's requests land on either worker;
its portal session holds, tokens and inquiries work, and the workers starting
together made one active and one next signing key per algorithm."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest

from deploy.stack import Stack, free_port
from tests.e2e.conftest import ONE_PLAN, OUTPUT
from tests.support.databases import fresh_database
from tests.support.oidc import sign_in
from tests.support.redis import require_redis

pytestmark = pytest.mark.e2e

PASSWORD = "Demo.Passw0rd-2026"
INQUIRY = {"member_id": "M1000101", "date_of_birth": "1985-04-12"}


@pytest.fixture(scope="module")
async def workers(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    redis_url = await require_redis()
    tmp = tmp_path_factory.mktemp("workers")
    async with (
        fresh_database("identity", tmp) as identity_db,
        fresh_database("plan", tmp) as plan_db,
    ):
        running = Stack(
            tmp / "data",
            identity_db,
            plan_db,
            ports={name: free_port() for name in ONE_PLAN},
            log_dir=OUTPUT / "e2e-logs" / "workers",
            extra_env={
                "GATEWAY_PORTAL_SESSION_STORE_URL": redis_url,
                "GATEWAY_RATE_LIMIT_KEY_PREFIX": f"test-workers-{uuid.uuid4().hex}",
                # the fixed demo only (M1000101 is in it): a quicker seed
                "PROVIDER_DATA_DEMO_MEMBERS": "0",
                "PROVIDER_DATA_DEMO_CLAIMS": "0",
            },
            workers=2,
        )
        await running.prepare()
        try:
            await running.start()
            yield running
        finally:
            await running.stop()


async def test_a_portal_session_holds_across_the_gateways_workers(workers: Stack) -> None:
    gateway = workers.url("gateway")
    # A new connection per request: uvicorn's workers share the socket, each accepts some.
    async with httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=0)) as browser:
        start = await browser.get(gateway + "/portal/login")
        assert start.status_code == 302, start.text
        back = await sign_in(browser, start.headers["location"], "ever.admin", PASSWORD)
        assert back.status_code == 302 and "/portal/callback" in back.headers["location"]
        landed = await browser.get(back.headers["location"])
        assert landed.status_code in (302, 303), landed.text
        pages = [await browser.get(gateway + "/portal/") for _ in range(12)]
    assert all(p.status_code == 200 for p in pages)
    assert all("12-3456789" in p.text or "123456789" in p.text for p in pages), pages[0].text


async def test_tokens_and_inquiries_with_two_workers_each(workers: Stack) -> None:
    auth = ("acme-curl", workers.credentials()["acme-curl"])
    async with httpx.AsyncClient() as client:
        jwks = (await client.get(workers.issuer + "/.well-known/jwks.json")).json()
        for _ in range(8):
            token = await client.post(
                workers.issuer + "/token",
                data={"grant_type": "client_credentials", "scope": "eligibility:read"},
                auth=auth,
            )
            assert token.status_code == 200, token.text
            answer = await client.post(
                workers.url("gateway") + "/eligibility/v1/inquiries",
                json=INQUIRY,
                headers={"Authorization": f"Bearer {token.json()['access_token']}"},
            )
            assert answer.status_code == 200 and answer.json()["status"] == "active", answer.text
    per_alg = Counter(key.get("alg", key["kty"]) for key in jwks["keys"])
    assert per_alg and set(per_alg.values()) == {2}, f"one active and one next key each: {per_alg}"


async def test_metrics_of_any_worker_report_every_worker(workers: Stack) -> None:
    """PROMETHEUS_MULTIPROC_DIR (set by the stack): each scrape, whichever worker takes
    it, counts the tokens both workers issued."""
    auth = ("acme-curl", workers.credentials()["acme-curl"])
    name = 'tinpass_tokens_issued_total{grant_type="client_credentials"}'

    async def issued() -> float:
        async with httpx.AsyncClient() as client:  # a new connection: either worker
            text = (await client.get(workers.issuer + "/metrics")).text
        lines = [line for line in text.splitlines() if line.startswith(name)]
        return float(lines[0].split()[-1]) if lines else 0.0

    before = await issued()
    for _ in range(12):
        async with httpx.AsyncClient() as client:
            token = await client.post(
                workers.issuer + "/token", data={"grant_type": "client_credentials"}, auth=auth
            )
            assert token.status_code == 200, token.text
    assert [await issued() for _ in range(6)] == [before + 12] * 6
