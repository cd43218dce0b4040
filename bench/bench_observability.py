"""CPU per request of `policy.observability`: the request id, the route template, the
histogram and the JSON access-log line (written to /dev/null through the services'
handler), against the same application without it.

Requests are driven straight through the ASGI callable (no sockets, no HTTP parsing),
interleaved with and without the middleware, and timed with the thread's CPU clock, so
what is left is the middleware's own cost, which a loaded machine does not change.
Run alone (`make bench-micro BENCH=bench_observability`), it measures in this process
(one worker, the default registry) and again in a subprocess with
`PROMETHEUS_MULTIPROC_DIR` set (several workers: values in memory-mapped files).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from policy import logs, metrics
from policy.observability import ACCESS_LOG, identify

REQUESTS = int(os.environ.get("BENCH_OBS_REQUESTS", "20000"))
ROUNDS = 5


async def claim(request: Request) -> Response:
    identify(request.scope, "acme-integrator", "org-1")
    return Response(b'{"claim_number":"C-1"}', media_type="application/json")


def application(observed: bool) -> Starlette:
    app = Starlette(routes=[Route("/claims/v1/claims/{claim_number}", claim)])
    if observed:
        metrics.install(app, "bench")
    return app


async def _drive(app: Any, count: int) -> float:
    """Thread CPU seconds for `count` requests through the ASGI callable."""
    headers = [(b"authorization", b"Bearer x"), (b"x-request-id", b"bench-request-1")]

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message: Any) -> None:
        return None

    started = time.thread_time()
    for n in range(count):
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": f"/claims/v1/claims/C-{n}",
            "raw_path": b"",
            "query_string": b"member_id=M1000101",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        await app(scope, receive, send)
    return time.thread_time() - started


async def measure() -> dict[str, float]:
    """Microseconds of CPU per request, bare and observed (median of the rounds)."""
    logs.configure("json")
    bare, observed = application(False), application(True)
    saved = sys.stderr
    with await asyncio.to_thread(open, os.devnull, "w") as null:
        sys.stderr = null  # the handler writes each line here: a real write, discarded
        try:
            await _drive(bare, 2000)
            await _drive(observed, 2000)
            rounds: dict[str, list[float]] = {"bare": [], "observed": [], "unlogged": []}
            for _ in range(ROUNDS):
                rounds["bare"].append(await _drive(bare, REQUESTS) / REQUESTS * 1e6)
                rounds["observed"].append(await _drive(observed, REQUESTS) / REQUESTS * 1e6)
                ACCESS_LOG.setLevel(logging.WARNING)  # the metrics and request id alone
                rounds["unlogged"].append(await _drive(observed, REQUESTS) / REQUESTS * 1e6)
                ACCESS_LOG.setLevel(logging.NOTSET)
        finally:
            sys.stderr = saved
    return {k: statistics.median(v) for k, v in rounds.items()}


def _row(mode: str, found: dict[str, float]) -> str:
    added = found["observed"] - found["bare"]
    log = found["observed"] - found["unlogged"]
    return f"| {mode} | {found['bare']:.1f} | {found['observed']:.1f} | {added:.1f} | {log:.1f} |"


async def run() -> None:
    here = await measure()
    with tempfile.TemporaryDirectory() as directory:
        env = {**os.environ, metrics.MULTIPROC_ENV: directory}
        code = "import asyncio, json; from bench import bench_observability as b; "
        code += "print(json.dumps(asyncio.run(b.measure())))"
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-c", code],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        out = done.stdout
    multi = json.loads(out.strip().splitlines()[-1])
    print(f"{REQUESTS} requests x {ROUNDS} rounds, CPU µs per request (median)")
    print("| registry | without | with | added | of which the log line |")
    print("| --- | ---: | ---: | ---: | ---: |")
    print(_row("one process (default registry)", here))
    print(_row("PROMETHEUS_MULTIPROC_DIR (several workers)", multi))


if __name__ == "__main__":
    asyncio.run(run())
