"""Submitting 1,000 claims in one bulk request (front-end edits, adjudication,
accumulators, audit), through the claims app over ASGI.

The database follows TINPASS_TEST_DB (sqlite by default, or postgresql). Claims go to
generated members (seed 11), one office visit and one lab each, all under the demo's
Evergreen Family Clinic; the request is then replayed with its Idempotency-Key.
"""

from __future__ import annotations

import tempfile
import time
from contextlib import AsyncExitStack
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx

from policy import TokenVerifier
from provider_data.api import claims
from provider_data.data.generator import Sizes, generate
from provider_data.data.seed import seed_demo
from provider_data.platform.db import create_engine, migrate, session_factory
from provider_data.platform.settings import Settings
from tests.support.databases import db_kind, fresh_database
from tests.support.tokens import AUDIENCE, ISSUER, JWKS_URI, TestIssuer

CLAIMS = int(__import__("os").environ.get("BENCH_BULK_CLAIMS", "1000"))


def _claim(n: int) -> dict[str, Any]:
    on = (date(2026, 1, 5) + timedelta(days=n % 280)).isoformat()
    member = f"G11{n % 400 + 1:05d}01"
    return {
        "patient_control_number": f"BENCH-{n}",
        "billing_provider": {"npi": "1234567893", "tin": "123456789"},
        "member": {"member_id": member},
        "diagnoses": ["J06.9"],
        "total_charge": "210.00",
        "lines": [
            {"procedure_code": "99213", "charge": "150.00", "service_date": on},
            {"procedure_code": "80053", "charge": "60.00", "service_date": on},
        ],
    }


async def _prepare(url: str) -> None:
    await anyio.to_thread.run_sync(migrate, url)
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            await seed_demo(session)
            await session.commit()
        await generate(engine, Sizes(members=1200, providers=10, claims=0, seed=11))
    finally:
        await engine.dispose()


async def run() -> None:
    issuer = TestIssuer()
    token = issuer.mint(scope="claims:read claims:write", roles=["billing"])
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "bench-1"}
    body = {"claims": [_claim(n) for n in range(CLAIMS)]}
    with tempfile.TemporaryDirectory() as tmp:
        async with fresh_database("benchbulk", Path(tmp)) as url, AsyncExitStack() as stack:
            await _prepare(url)
            settings = Settings(
                environment="test", database_url=url, issuer=ISSUER, audience=AUDIENCE
            )
            jwks = await stack.enter_async_context(issuer.http_client())
            verifier = TokenVerifier(ISSUER, AUDIENCE, JWKS_URI, http_client=jwks)
            app = claims.create_app(settings, verifier=verifier)
            await stack.enter_async_context(app.router.lifespan_context(app))
            client = await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://plan", timeout=600
                )
            )
            print(
                f"{'database':<12}{'request':<10}{'claims':>8}{'accepted':>10}{'seconds':>9}{'claims/s':>10}"
            )
            for label in ("bulk", "replay"):
                started = time.perf_counter()
                answer = await client.post("/claims/v1/claims/bulk", json=body, headers=headers)
                elapsed = time.perf_counter() - started
                accepted = answer.json()["accepted"]
                print(
                    f"{db_kind():<12}{label:<10}{CLAIMS:>8,}{accepted:>10,}"
                    f"{elapsed:>9.1f}{CLAIMS / elapsed:>10,.0f}"
                )
