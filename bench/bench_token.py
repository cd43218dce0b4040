"""The token endpoint under concurrent load (client_credentials, in-process ASGI).

The database follows TINPASS_TEST_DB (sqlite by default, or postgresql); client and
server share one process, so the figures bound the server's cost from above.

Shows the Authlib-in-a-worker-thread design keeping the event loop free: many
requests in flight at once, each answered; latency percentiles and throughput.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import anyio

from tests.identity.harness import running_identity

REQUESTS = 300
CONCURRENCY = 20


async def run() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with running_identity(Path(tmp)) as identity, identity.client() as client:
            auth = ("acme-curl", identity.credentials.curl_secret)
            latencies: list[float] = []
            limiter = anyio.Semaphore(CONCURRENCY)

            async def one() -> None:
                async with limiter:
                    started = time.perf_counter()
                    response = await client.post(
                        "/token", data={"grant_type": "client_credentials"}, auth=auth
                    )
                    latencies.append(time.perf_counter() - started)
                    assert response.status_code == 200, response.text

            started = time.perf_counter()
            async with anyio.create_task_group() as group:
                for _ in range(REQUESTS):
                    group.start_soon(one)
            elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    print(f"{REQUESTS} token requests, {CONCURRENCY} in flight: {REQUESTS / elapsed:,.0f} req/s")
    p50, p95, worst = cuts[49] * 1e3, cuts[94] * 1e3, max(latencies) * 1e3
    print(f"latency ms: p50 {p50:.1f}  p95 {p95:.1f}  max {worst:.1f}")
