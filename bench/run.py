"""`make bench`: set everything up, run every case, print one table.

Environment: BENCH_DURATION (seconds per case, 10), BENCH_WARMUP (3), BENCH_WORKERS
(uvicorn workers per service, the CPU count), BENCH_LARGE=1 (1,000,000 members,
provider records, users and tokens instead of 100,000 / 100,000 / 100,000 / 50,000),
BENCH_FLAT_ROUNDS (3) and BENCH_FLAT_SECONDS (5) for the interleaved size comparison
(bench/flat.py), BENCH_POSTGRES_URL.

Audited writes from one and two processes are bench/bench_audit.py's: when it has
`async def table_rows() -> list[dict]` (each dict the fields of a `bench.table.Row`:
case, rps, p50_ms, p99_ms, ratio, note, errors, target) its rows join the table; a
row without a target of its own is held to two processes ÷ one ≥ 1.7 when it has a
ratio; otherwise its `run()` output is printed under the table.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import platform
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from bench import cases, flat, login, scale, wrk
from bench.harness import Reference, Setup, running, synchronous_commit
from bench.table import Row, Target, render

Measure = Callable[[], Awaitable[cases.Measured]]
AUDIT_CASE = "audited writes: two processes ÷ one (bench/bench_audit.py)"


def row(case: str, measured: cases.Measured, target: Target | None = None, **extra: Any) -> Row:
    result = measured.result
    return Row(
        case,
        rps=result.rps,
        p50_ms=result.p50_ms,
        p99_ms=result.p99_ms,
        target=target or Target(),
        note=measured.note,
        errors=result.errors,
        **extra,
    )


async def attempt(case: str, target: Target, measure: Measure) -> tuple[Row, float | None]:
    """The case's row and its rate; a case that cannot run is a failed row, not a crash."""
    try:
        measured = await measure()
    except Exception as error:  # the table is still printed with the other cases
        traceback.print_exc()
        return Row(case, target=target, note=f"not measured: {error}", errors=1), None
    return row(case, measured, target), measured.result.rps


def ratio(value: float | None, reference: float | None) -> float | None:
    return value / reference if value and reference else None


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        model = next((ln.split(":", 1)[1].strip() for ln in cpuinfo if "model name" in ln), model)
    return f"{os.cpu_count()} CPUs ({model}), {platform.system()} {platform.release()}"


def busy_warning() -> str:
    """A warning when other work loads the machine (the figures would be too low)."""
    load = os.getloadavg()[0]
    if load <= 0.5 * (os.cpu_count() or 1):
        return ""
    return f"WARNING: load average {load:.1f} before the bench: other work competes for the CPUs\n"


async def audit_rows() -> tuple[list[Row], str]:
    """The audit helper's rows: its `table_rows()` when it has one, else its printout."""
    target = Target(min_ratio=1.7)
    try:
        module = importlib.import_module("bench.bench_audit")
    except ModuleNotFoundError:
        return [Row(AUDIT_CASE, target=target, note="bench/bench_audit.py not there yet")], ""
    hook = getattr(module, "table_rows", None)
    if hook is not None:
        found: list[dict[str, Any]] = await hook()
        return [
            Row(**r) if "target" in r else Row(**r, target=target if r.get("ratio") else Target())
            for r in found
        ], ""
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        await module.run()
    return [
        Row(AUDIT_CASE, target=target, note="see its output below the table")
    ], output.getvalue()


async def token_rows(setup: Setup) -> list[Row]:
    reference, ref_rps = await attempt(
        "reference: oidc-provider 9 client_credentials, RS256 JWT",
        Target(),
        lambda: cases.reference_token(setup),
    )
    rs, rs_rps = await attempt(
        "TINpass client_credentials, RS256 access token",
        Target(min_ratio=0.5),
        lambda: cases.tinpass_token(setup, "RS256"),
    )
    es, es_rps = await attempt(
        "TINpass client_credentials, ES256 access token",
        Target(min_ratio=1.0, max_p99_ms=50),
        lambda: cases.tinpass_token(setup, "ES256"),
    )
    rs.ratio, es.ratio = ratio(rs_rps, ref_rps), ratio(es_rps, ref_rps)
    return [reference, es, rs]


async def login_rows(setup: Setup) -> tuple[list[Row], float | None]:
    processes = login.raw_processes(setup)
    try:
        raw_rps: float | None = login.raw_verify_rate(setup)
        raw = Row(f"raw argon2id verify, {processes} processes", rps=raw_rps)
    except Exception as error:
        raw_rps, raw = None, Row("raw argon2id verify", note=f"not measured: {error}", errors=1)
    logins, login_rps = await attempt(
        "password login (form, CSRF, session, code, audit)",
        Target(min_ratio=0.85),
        lambda: login.password_login(setup),
    )
    logins.ratio = ratio(login_rps, raw_rps)
    return [raw, logins], login_rps


async def bounded_row(setup: Setup, tokens: int) -> Row:
    case = f"tables bounded after {tokens:,} client_credentials tokens"
    try:
        growth = await scale.tables_after_tokens(setup, tokens)
    except Exception as error:
        traceback.print_exc()
        return Row(case, note=f"not measured: {error}", errors=1, target=Target(max_ratio=0.01))
    table, rows = growth.worst_outside_audit
    return Row(
        case,
        rps=growth.rps,
        ratio=rows / growth.tokens,
        target=Target(max_ratio=0.01),
        note=f"{growth.tokens:,} issued ({growth.errors:,} failed), then one janitor round; "
        f"grew (rows, size with indexes): {growth.describe() or 'nothing'}; worst outside audit: "
        + (f"{table} +{rows:,} rows" if table else "none")
        + "; ÷ ref = its rows per token",
    )


async def main() -> int:
    sizes = scale.Sizes.from_env()
    busy = busy_warning()  # before the bench's own processes start
    wrk.ensure_installed()
    Reference.install()
    # The audit writers run first, on their own database, while no service holds connections.
    audit, audit_output = await audit_rows()
    async with running(members=sizes.base) as setup:
        await scale.users_up_to(setup.stack.identity_db, sizes.base)
        commit = await synchronous_commit(setup.stack.identity_db)
        started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        header = (
            f"{busy}{started}; {machine()}; {setup.workers} workers per service;\n"
            f"PostgreSQL synchronous_commit={commit}; wrk {wrk.CONNECTIONS} connections, "
            f"{cases.warmup():g} s warm-up, {cases.duration():g} s per case"
        )
        print(f"\n{header}\n", flush=True)
        rows = await token_rows(setup)
        gateway, _ = await attempt(
            "eligibility inquiry through the gateway",
            Target(min_rps=800, max_p99_ms=50),
            lambda: cases.eligibility(setup, "gateway"),
        )
        direct, _ = await attempt(
            "eligibility inquiry direct to the service",
            Target(min_rps=1200),
            lambda: cases.eligibility(setup, "eligibility"),
        )
        rows += [gateway, direct]
        logins, _ = await login_rows(setup)
        rows += [*logins, *audit, *await flat.flat_rows(setup, sizes)]
        rows.append(await bounded_row(setup, sizes.tokens))
    print(f"\n{header}\n\n{render(rows)}")
    if audit_output:
        print("\nbench/bench_audit.py:\n" + audit_output)
    return 0 if all(r.passed() is not False for r in rows) else 1
