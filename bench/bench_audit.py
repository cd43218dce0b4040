"""Audited writes from one process and from two at once, on PostgreSQL, with the
sealer chaining behind them; then a writer killed with SIGKILL mid-load.

Each writer process runs WRITERS tasks, each committing transactions of one access
event (provider_data.audit.record, as an eligibility answer writes it) for SECONDS
seconds. Writers take no shared lock, so two processes should reach >= 1.7x one.
Two kinds of transaction: the event alone (CPU-bound on a small machine: the ratio
then says how many cores are free), and the event followed by HOLD_MS of other work
before the commit (as a claim's intake and adjudication follow its audit event): under
the former chain-head lock that kind was capped at 1000/HOLD_MS per second in total.
Meanwhile one sealer (policy.sealer, the same task the apps run) chains the events;
its lag (age of the oldest unsealed event) is sampled every 50 ms.

The crash case: two writers, one killed with SIGKILL halfway; every event a writer
saw committed (it logs each id after its commit) must be in the chain, the chain
must be gap-free and `audit verify` must pass.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from policy.audit import AccessRecord
from policy.sealer import Sealer, stop
from provider_data import audit
from provider_data.db import create_engine, migrate, session_factory
from provider_data.models import AccessEvent

SECONDS = float(os.environ.get("BENCH_AUDIT_SECONDS", "5"))
WRITERS = int(os.environ.get("BENCH_AUDIT_WRITERS", "16"))
HOLD_MS = float(os.environ.get("BENCH_AUDIT_HOLD_MS", "100"))
TARGET = 1.7


def _access(writer: str, n: int) -> AccessRecord:
    return AccessRecord(
        subject="bench",
        client_id="bench-client",
        org_id=None,
        action="eligibility.read",
        member_id="M1000101",
        tax_id="123456789",
        allowed=True,
        reason="tin_matched",
        request_id=f"{writer}-{n}",
    )


async def _writer(url: str, seconds: float, tasks: int, log_path: str, hold: float) -> None:
    """One writer process: `tasks` concurrent audited transactions until time is up."""
    engine = create_async_engine(url, pool_size=tasks, max_overflow=0)
    sessions = session_factory(engine)
    name, done = f"p{os.getpid()}", 0
    async with engine.connect():  # connected (and imported): the clock starts now
        print("ready", flush=True)
    deadline = time.monotonic() + seconds
    with open(log_path, "a", buffering=1) as log:  # noqa: ASYNC230 (a line per commit)

        async def loop(task: int) -> None:
            nonlocal done
            n = 0
            while time.monotonic() < deadline:
                n += 1
                request_id = f"{name}.{task}"
                async with sessions() as session:
                    await audit.record(session, _access(request_id, n))
                    if hold:
                        await session.flush()
                        await asyncio.sleep(hold)  # the rest of the transaction's work
                    await session.commit()
                log.write(f"{request_id}-{n}\n")  # acknowledged: it must be in the trail
                done += 1

        await asyncio.gather(*(loop(t) for t in range(tasks)))
    await engine.dispose()
    print(json.dumps({"events": done}))


async def _spawn(
    url: str, seconds: float, log_path: Path, hold: float
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.bench_audit",
        url,
        str(seconds),
        str(WRITERS),
        str(log_path),
        str(hold),
        stdout=asyncio.subprocess.PIPE,
    )


async def _lags(url: str, until: asyncio.Event) -> list[float]:
    engine = create_engine(url)
    samples: list[float] = []
    try:
        async with session_factory(engine)() as session:
            while not until.is_set():
                samples.append((await audit.status(session)).oldest_unsealed_age)
                await session.commit()
                await asyncio.sleep(0.05)
    finally:
        await engine.dispose()
    return samples


async def _round(
    url: str, processes: int, tmp: Path, kill: bool = False, hold: float = 0.0
) -> dict[str, float]:
    """Writers (one killed halfway with `kill`) with one sealer behind them; the events
    counted are those the surviving writers saw committed."""
    engine = create_engine(url)
    sealer = Sealer(engine, audit.TRAIL)
    sealing = asyncio.create_task(sealer.run())
    stopped = asyncio.Event()
    sampling = asyncio.create_task(_lags(url, stopped))
    log_path = tmp / f"acknowledged-{processes}-{kill}-{hold}.log"
    started = time.perf_counter()
    writers = [await _spawn(url, SECONDS, log_path, hold) for _ in range(processes)]
    for writer in writers:
        assert writer.stdout is not None
        await writer.stdout.readline()
    if kill:
        await asyncio.sleep(SECONDS / 2)
        writers[0].send_signal(signal.SIGKILL)
    outputs = [await w.communicate() for w in writers]
    elapsed = time.perf_counter() - started
    async with session_factory(engine)() as session:
        deadline = time.monotonic() + 30
        while (await audit.status(session)).unsealed and time.monotonic() < deadline:
            await session.commit()
            await asyncio.sleep(0.05)
        drained = time.perf_counter() - started - elapsed
    stopped.set()
    lags = await sampling
    await stop(sealer, sealing)
    await engine.dispose()
    events = sum(json.loads(out)["events"] for out, _ in outputs if out)
    return {
        "killed": writers[0].pid if kill else 0,
        "events": events,
        "rate": events / SECONDS,
        "lag_max": max(lags),
        "lag_p95": statistics.quantiles(lags, n=20)[-1] if len(lags) > 1 else lags[0],
        "drained": drained,
    }


async def _crash_check(url: str, tmp: Path, killed: int) -> str:
    text = await asyncio.to_thread((tmp / "acknowledged-2-True-0.0.log").read_text)
    acknowledged = {line.strip() for line in text.splitlines() if line.strip()}
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            await audit.seal(session)
            result = await audit.verify(session)
            count = await session.scalar(select(func.count()).select_from(AccessEvent))
            ids = set(await session.scalars(select(AccessEvent.request_id)))
    finally:
        await engine.dispose()
    lost = acknowledged - {i for i in ids if i}
    by_killed = sum(1 for i in acknowledged if i.startswith(f"p{killed}."))
    ok = result.ok and result.checked == count and not lost and by_killed > 0
    said = (
        f"{result.describe()}; {len(acknowledged)} acknowledged "
        f"({by_killed} by the killed writer), {len(lost)} lost"
    )
    return ("PASS " if ok else "FAIL ") + said


def _database_url() -> str:
    return os.environ.get(
        "TINPASS_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    )


CASES = (  # processes, killed, seconds held in the transaction
    (1, False, 0.0),
    (2, False, 0.0),
    (1, False, HOLD_MS / 1000),
    (2, False, HOLD_MS / 1000),
    (2, True, 0.0),
)


def _label(processes: int, kill: bool, hold: float) -> str:
    held = f", +{hold * 1000:.0f} ms held" if hold else ""
    return f"{processes}{held}{' (one killed -9)' if kill else ''}"


async def run() -> None:
    from tests.support import databases

    os.environ["TINPASS_TEST_DB"] = "postgresql"  # this benchmark is about PostgreSQL
    os.environ.setdefault("TINPASS_TEST_POSTGRES_URL", _database_url())
    rows, crash = [], ""
    with tempfile.TemporaryDirectory() as tmp:
        for processes, kill, hold in CASES:
            async with databases.fresh_database("benchaudit", Path(tmp)) as url:
                await asyncio.to_thread(migrate, url)
                result = await _round(url, processes, Path(tmp), kill, hold)
                rows.append((_label(processes, kill, hold), result))
                if kill:
                    crash = await _crash_check(url, Path(tmp), int(result["killed"]))
    print(f"audited writes, {WRITERS} tasks per process, {SECONDS:.0f} s each, PostgreSQL")
    print(f"{'writer processes':<32}{'events':>8}{'events/s':>10}{'lag p95':>9}{'lag max':>9}")
    for label, r in rows:
        print(
            f"{label:<32}{r['events']:>8.0f}{r['rate']:>10,.0f}"
            f"{r['lag_p95']:>8.3f}s{r['lag_max']:>8.3f}s"
        )
    for name, one, two in (("event alone", 0, 1), (f"+{HOLD_MS:.0f} ms held", 2, 3)):
        scale = rows[two][1]["rate"] / rows[one][1]["rate"]
        verdict = "pass" if scale >= TARGET else "FAIL"
        print(f"two processes / one, {name}: {scale:.2f}x (target >= {TARGET}x): {verdict}")
    lag = max(r["lag_max"] for _, r in rows)
    print(f"sealing lag max {lag:.3f} s (target < 1 s): {'pass' if lag < 1 else 'FAIL'}")
    print(f"after kill -9: {crash}")


if __name__ == "__main__":
    url, seconds, tasks, log_path, hold = sys.argv[1:6]
    asyncio.run(_writer(url, float(seconds), int(tasks), log_path, float(hold)))
