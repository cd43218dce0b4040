"""What tracing costs per request (policy.tracing): POST /token and an eligibility inquiry,
tracing off (the default) and on (every span redacted into an in-memory exporter).

In process over an ASGI transport on SQLite: CPU time (`time.process_time`, client and
server together, so a busy machine does not change it much) per request, after a warm
up, off and on alternately, each round with an app built afresh (tracing is decided
when an app is made). Off installs nothing, so off is the code of a build without
tracing; the difference on - off is what tracing adds.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio.to_thread
import httpx
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bench.cases import FORM, INQUIRY, TINPASS_TOKEN_BODY
from policy import TokenVerifier, tracing
from provider_data.api import eligibility
from provider_data.data.seed import seed_demo
from provider_data.platform.db import create_engine, migrate, session_factory
from tests.identity.harness import running_identity
from tests.provider_data.conftest import plan_settings
from tests.support.tokens import AUDIENCE, ISSUER, JWKS_URI, TestIssuer

WARM_UP = 50
ROUNDS = 400
Send = Callable[[], Awaitable[httpx.Response]]


def switch(on: bool) -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    tracing.reset()
    if on:
        tracing.use_processors(SimpleSpanProcessor(exporter))
    return exporter


async def measure(send: Send, exporter: InMemorySpanExporter) -> tuple[float, float]:
    """CPU ms per request and spans per request."""
    for _ in range(WARM_UP):
        assert (await send()).status_code == 200
    exporter.clear()
    started = time.process_time()
    for _ in range(ROUNDS):
        await send()
    cpu = time.process_time() - started
    return cpu / ROUNDS * 1000, len(exporter.get_finished_spans()) / ROUNDS


async def token(tmp: Path, on: bool) -> tuple[float, float]:
    exporter = switch(on)
    folder = tmp / f"identity-{on}-{time.monotonic_ns()}"
    folder.mkdir()
    async with running_identity(folder) as identity, identity.client() as client:
        secret = identity.credentials.curl_secret

        def send() -> Awaitable[httpx.Response]:
            return client.post(
                "/token",
                content=TINPASS_TOKEN_BODY,
                headers={"Content-Type": FORM},
                auth=("acme-curl", secret),
            )

        return await measure(send, exporter)


async def inquiry(url: str, on: bool) -> tuple[float, float]:
    exporter = switch(on)
    issuer = TestIssuer()
    async with issuer.http_client() as jwks:
        verifier = TokenVerifier(ISSUER, AUDIENCE, JWKS_URI, http_client=jwks)
        app = eligibility.create_app(plan_settings(url), verifier=verifier)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://plan") as client:
                headers = {"Authorization": f"Bearer {issuer.mint(exp=int(time.time()) + 3600)}"}

                def send() -> Awaitable[httpx.Response]:
                    return client.post("/eligibility/v1/inquiries", json=INQUIRY, headers=headers)

                return await measure(send, exporter)


async def plan_database(tmp: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp}/plan.db"
    await anyio.to_thread.run_sync(migrate, url)
    engine = create_engine(url)
    async with session_factory(engine)() as session:
        await seed_demo(session)
        await session.commit()
    await engine.dispose()
    return url


async def run() -> None:
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        url = await plan_database(tmp)
        print(f"{'request':<12}{'tracing':>8}{'CPU ms each':>14}{'spans each':>12}")
        try:
            for _ in range(2):
                for on in (False, True):
                    for name, (cpu, spans) in (
                        ("POST /token", await token(tmp, on)),
                        ("inquiry", await inquiry(url, on)),
                    ):
                        print(f"{name:<12}{'on' if on else 'off':>8}{cpu:>14.3f}{spans:>12.1f}")
        finally:
            tracing.reset()
