"""Audited writes from one process and from two at once, on PostgreSQL, with the
sealer chaining behind them; then a writer killed with SIGKILL mid-load.

Writers take no shared lock (the sealer chains events after they commit), so two
writer processes should do about twice the work of one, as long as there is a CPU
for the second. Each writer process runs a fixed number of tasks, each committing
transactions of one access event (provider_data.platform.audit.record, as an eligibility
answer writes it) for SECONDS seconds. Three loads, each with one and two processes:

- light (LIGHT_TASKS tasks per process, the event alone): one process is not
  CPU-bound, it waits on its commits; two should reach >= 1.7x one.
- held (WRITERS tasks, the event followed by HOLD_MS of other work before the commit,
  as a claim's intake follows its audit event): latency-bound; under the former
  chain-head lock this was capped at 1000/HOLD_MS per second in total. >= 1.7x.
- saturated (WRITERS tasks, the event alone): as fast as the CPUs allow. On a machine
  with few cores shared by the writers, PostgreSQL and the sealer the ratio says how
  much CPU was left for the second process, not whether there is a lock: it is
  reported with the machine's busy share and the CPU per event, without a target.

Every round reports the writers' CPU per event (their own user + system time), the
bench process's (the sealer and the lag sampler) and the machine's busy share
(/proc/stat). One sealer (policy.sealer, the same task the apps run) chains the events;
its lag (age of the oldest unsealed event) is sampled every 50 ms.

The crash case: two writers, one killed with SIGKILL halfway; every event a writer
saw committed (it logs each id after its commit) must be in the chain, the chain
must be gap-free and `audit verify` must pass. `make bench` shows all of it as rows
of its table (`table_rows`).
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from bench.table import Row, Target, render
from policy.audit import AccessRecord
from policy.sealer import Sealer, stop
from provider_data.platform import audit
from provider_data.platform.db import create_engine, migrate, session_factory
from provider_data.platform.models import AccessEvent

SECONDS = float(os.environ.get("BENCH_AUDIT_SECONDS", "5"))
WRITERS = int(os.environ.get("BENCH_AUDIT_WRITERS", "16"))
LIGHT_TASKS = int(os.environ.get("BENCH_AUDIT_LIGHT_TASKS", "2"))
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
    cpu, deadline = time.process_time(), time.monotonic() + seconds
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
    cpu = time.process_time() - cpu
    await engine.dispose()
    print(json.dumps({"events": done, "cpu": cpu}))


@dataclass(frozen=True)
class Case:
    load: str  # light, held, saturated, crash
    processes: int
    tasks: int
    hold: float = 0.0  # seconds held in the transaction after the event
    kill: bool = False

    @property
    def label(self) -> str:
        held = f" +{self.hold * 1000:.0f} ms held" if self.hold else ""
        return f"{self.load}: {self.processes} x {self.tasks} tasks{held}"


CASES = (
    Case("light", 1, LIGHT_TASKS),
    Case("light", 2, LIGHT_TASKS),
    Case("held", 1, WRITERS, HOLD_MS / 1000),
    Case("held", 2, WRITERS, HOLD_MS / 1000),
    Case("saturated", 1, WRITERS),
    Case("saturated", 2, WRITERS),
    Case("crash", 2, WRITERS, kill=True),
)


async def _spawn(url: str, case: Case, log_path: Path) -> asyncio.subprocess.Process:
    args = (url, str(SECONDS), str(case.tasks), str(log_path), str(case.hold))
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.bench_audit", *args, stdout=asyncio.subprocess.PIPE
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


def _cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return sum(values) - idle, sum(values)


async def _drain(engine: Any) -> None:
    async with session_factory(engine)() as session:
        deadline = time.monotonic() + 30
        while (await audit.status(session)).unsealed and time.monotonic() < deadline:
            await session.commit()
            await asyncio.sleep(0.05)


async def _round(url: str, case: Case, tmp: Path) -> dict[str, float]:
    """Writers (one killed halfway for the crash case) with one sealer behind them; the
    events counted are those the surviving writers saw committed."""
    engine = create_engine(url)
    sealer = Sealer(engine, audit.TRAIL)
    sealing = asyncio.create_task(sealer.run())
    stopped = asyncio.Event()
    sampling = asyncio.create_task(_lags(url, stopped))
    log_path = tmp / "acknowledged.log"
    writers = [await _spawn(url, case, log_path) for _ in range(case.processes)]
    for writer in writers:
        assert writer.stdout is not None
        await writer.stdout.readline()
    busy, total, own = *_cpu_ticks(), time.process_time()
    if case.kill:
        await asyncio.sleep(SECONDS / 2)
        writers[0].send_signal(signal.SIGKILL)
    outputs = [json.loads(out) for out, _ in [await w.communicate() for w in writers] if out]
    busy_after, total_after = _cpu_ticks()
    await _drain(engine)
    own = time.process_time() - own
    stopped.set()
    lags = await sampling
    await stop(sealer, sealing)
    await engine.dispose()
    events = sum(o["events"] for o in outputs)
    return {
        "killed": writers[0].pid if case.kill else 0,
        "events": events,
        "rate": events / SECONDS,
        "writer_cpu_ms": 1000 * sum(o["cpu"] for o in outputs) / max(events, 1),
        "sealer_cpu_ms": 1000 * own / max(events, 1),
        "busy": (busy_after - busy) / max(total_after - total, 1),
        "lag_max": max(lags),
        "lag_p95": statistics.quantiles(lags, n=20)[-1] if len(lags) > 1 else lags[0],
    }


async def _crash_check(url: str, tmp: Path, killed: int) -> tuple[bool, int, str]:
    """(passed, events lost, what was found) after the crash case."""
    text = await asyncio.to_thread((tmp / "acknowledged.log").read_text)
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
    return ok, len(lost), said


def _database_url() -> str:
    return os.environ.get(
        "TINPASS_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    )


def _figures(r: dict[str, float]) -> str:
    return (
        f"{r['rate']:,.0f} events/s, writers {r['writer_cpu_ms']:.2f} ms CPU/event, "
        f"sealer process {r['sealer_cpu_ms']:.2f}, machine {r['busy']:.0%} busy, "
        f"sealing lag p95 {r['lag_p95']:.3f} s max {r['lag_max']:.3f} s"
    )


def _rows(results: dict[Case, dict[str, float]], crash: tuple[bool, int, str]) -> list[Row]:
    rows: list[Row] = []
    for load in ("light", "held", "saturated"):
        one, two = (results[c] for c in CASES if c.load == load)
        case = next(c for c in CASES if c.load == load and c.processes == 2)
        saturated = load == "saturated"
        note = f"1 process: {_figures(one)}; 2: {_figures(two)}"
        if saturated:
            note += f"; CPU-bound on {os.cpu_count()} CPUs shared with PostgreSQL: no target"
        rows.append(
            Row(
                f"audited writes, {case.label.replace('2 x', 'N x')}: 2 processes ÷ 1",
                rps=two["rate"],
                ratio=two["rate"] / one["rate"],
                target=Target() if saturated else Target(min_ratio=TARGET),
                note=note,
            )
        )
    ok, lost, said = crash
    killed = next(results[c] for c in CASES if c.kill)
    rows.append(
        Row(
            "audited writes, kill -9 of 1 of 2 writers mid-load: audit verify, events lost",
            rps=killed["rate"],
            ratio=lost / max(killed["events"], 1),
            target=Target(max_ratio=0),
            note=("PASS " if ok else "FAIL ") + said + "; ÷ ref = share lost",
            errors=0 if ok else 1,
        )
    )
    return rows


async def table_rows() -> list[dict[str, Any]]:
    """The rows `make bench` adds to its table (bench.run)."""
    return [
        {
            k: getattr(r, k)
            for k in ("case", "rps", "p50_ms", "p99_ms", "ratio", "note", "errors", "target")
        }
        for r in await measured_rows()
    ]


async def measured_rows() -> list[Row]:
    from tests.support import databases

    os.environ["TINPASS_TEST_DB"] = "postgresql"  # this benchmark is about PostgreSQL
    os.environ.setdefault("TINPASS_TEST_POSTGRES_URL", _database_url())
    results: dict[Case, dict[str, float]] = {}
    crash: tuple[bool, int, str] = (False, 0, "not run")
    for case in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            async with databases.fresh_database("benchaudit", Path(tmp)) as url:
                await asyncio.to_thread(migrate, url)
                results[case] = await _round(url, case, Path(tmp))
                if case.kill:
                    crash = await _crash_check(url, Path(tmp), int(results[case]["killed"]))
    return _rows(results, crash)


async def run() -> None:
    rows = await measured_rows()
    print(f"audited writes, {SECONDS:g} s per round, PostgreSQL\n\n{render(rows)}")


if __name__ == "__main__":
    url, seconds, tasks, log_path, hold = sys.argv[1:6]
    asyncio.run(_writer(url, float(seconds), int(tasks), log_path, float(hold)))
