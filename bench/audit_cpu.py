"""`python -m bench.audit_cpu`: CPU time and database transactions per request, which do not
depend on how busy the machine is (unlike req/s on a shared machine).

Identity and the eligibility app run on fresh PostgreSQL databases, one uvicorn
process each (BENCH_WORKERS is ignored: one process is what /proc is read for).
Each round measures both ways of writing the audit events of requests that change
nothing, back to back (BENCH_CPU_ROUNDS rounds, default 2): each in its request's
own transaction (*_AUDIT_BATCH_SIZE=0, as before the group-commit writer) and group
committed (policy.audit_batch, the default). For each case wrk sends requests for
BENCH_DURATION seconds (default 10) at BENCH_CPU_CONNECTIONS connections (default
32); the server process's utime+stime (/proc/<pid>/stat) before and after, divided
by the requests wrk completed, is the CPU per request; pg_stat_database's
xact_commit and xact_rollback of the service's database likewise give commits and
rollbacks per request (the sealer's included; a read-only transaction ends in a
rollback).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import uuid
from contextlib import AsyncExitStack
from dataclasses import dataclass

import asyncpg
import httpx

from bench import wrk
from bench.cases import FORM, INQUIRY, INQUIRY_PATH, TINPASS_TOKEN_BODY, fetch_token
from bench.harness import DEFAULT_SERVER, LOG_DIR, RAISED_LIMITS, fresh_database, plain_dsn
from deploy.stack import Stack, free_port

TICKS = os.sysconf("SC_CLK_TCK")
HEADER = (
    "| case | requests | req/s (loaded) | CPU ms per request | commits per request "
    "| rollbacks per request |"
)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (seconds)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


async def transactions(url: str) -> tuple[int, int]:
    """(commits, rollbacks) of the database so far (retried while the server is full)."""
    for attempt in range(20):
        try:
            connection = await asyncpg.connect(plain_dsn(url))
            break
        except asyncpg.TooManyConnectionsError:
            await asyncio.sleep(0.5 * (attempt + 1))
    else:
        raise RuntimeError("PostgreSQL stayed full (max_connections)")
    try:
        name = url.rpartition("/")[2]
        await connection.execute("SELECT pg_stat_force_next_flush()")
        row = await connection.fetchrow(
            "SELECT xact_commit, xact_rollback FROM pg_stat_database WHERE datname = $1", name
        )
        assert row is not None
        return int(row[0]), int(row[1])
    finally:
        await connection.close()


@dataclass(frozen=True)
class Cost:
    case: str
    requests: int
    rps: float
    cpu_ms: float
    commits: float
    rollbacks: float

    def line(self) -> str:
        return (
            f"| {self.case} | {self.requests:,} | {self.rps:,.0f} | {self.cpu_ms:.2f} | "
            f"{self.commits:.2f} | {self.rollbacks:.2f} |"
        )


async def cost(case: str, url: str, script: str, pid: int, database: str) -> Cost:
    seconds = float(os.environ.get("BENCH_DURATION", "10"))
    connections = int(os.environ.get("BENCH_CPU_CONNECTIONS", "32"))
    await wrk.run(url, script, 2, connections)  # warm-up
    await asyncio.sleep(1.5)  # the stats of the warm-up reach pg_stat_database
    cpu, (commits, rollbacks) = cpu_seconds(pid), await transactions(database)
    result = await wrk.run(url, script, seconds, connections)
    cpu_after = cpu_seconds(pid)
    await asyncio.sleep(1.5)
    commits_after, rollbacks_after = await transactions(database)
    done = max(result.requests, 1)
    return Cost(
        case,
        result.requests,
        result.rps,
        (cpu_after - cpu) * 1000 / done,
        (commits_after - commits - 1) / done,  # less the first reading's own
        (rollbacks_after - rollbacks) / done,
    )


MODES = {
    "per-request transaction": "0",  # *_AUDIT_BATCH_SIZE=0: each event in its own request's
    "group commit": "256",
}


async def measure_mode(stack: Stack, mode: str, identity_db: str, plan_db: str) -> list[Cost]:
    """Restart identity and eligibility with the audit writer of `mode`, measure both."""
    size = MODES[mode]
    await stack.stop("eligibility")
    await stack.stop("identity")
    stack.extra_env = {
        **stack.extra_env,
        "IDENTITY_AUDIT_BATCH_SIZE": size,
        "PROVIDER_DATA_AUDIT_BATCH_SIZE": size,
    }
    await stack.start(("identity", "eligibility"))
    authorization = "Basic " + _basic("acme-curl", stack.credentials()["acme-curl"])
    token = await fetch_token(stack.issuer, authorization, TINPASS_TOKEN_BODY)
    token_cost = await cost(
        f"client_credentials token, {mode}",
        stack.issuer + "/token",
        wrk.post_script(TINPASS_TOKEN_BODY, {"Content-Type": FORM, "Authorization": authorization}),
        stack.processes["identity"].pid,
        identity_db,
    )
    inquiry_cost = await cost(
        f"eligibility inquiry (direct), {mode}",
        stack.url("eligibility") + INQUIRY_PATH,
        wrk.post_script(
            json.dumps(INQUIRY),
            {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        ),
        stack.processes["eligibility"].pid,
        plan_db,
    )
    async with httpx.AsyncClient(timeout=5) as client:
        for name in ("identity", "eligibility"):
            state = (await client.get(stack.url(name) + "/status/audit")).json()
            print(f"  {mode}, {name}: group commit {state.get('group_commit')}", flush=True)
    return [token_cost, inquiry_cost]


async def main() -> None:
    server = os.environ.get("BENCH_POSTGRES_URL", DEFAULT_SERVER)
    rounds = int(os.environ.get("BENCH_CPU_ROUNDS", "2"))
    costs: list[Cost] = []
    async with AsyncExitStack() as exits:
        identity_db = await exits.enter_async_context(fresh_database(server, "identity"))
        plan_db = await exits.enter_async_context(fresh_database(server, "plan"))
        names = ("identity", "eligibility", "claims", "gateway")
        stack = Stack(
            data_dir=LOG_DIR / f"data-{uuid.uuid4().hex[:8]}",
            identity_db=identity_db,
            plan_db=plan_db,
            ports={name: free_port() for name in names},
            log_dir=LOG_DIR / "logs",
            extra_env={**RAISED_LIMITS, "PROVIDER_DATA_DEMO_MEMBERS": "1000"},
            workers=1,
        )
        exits.callback(shutil.rmtree, stack.data_dir, True)
        await stack.prepare()
        exits.push_async_callback(stack.stop)
        for _ in range(rounds):  # back to back, alternating, so both see the same load
            for mode in MODES:
                measured = await measure_mode(stack, mode, identity_db, plan_db)
                for line in measured:
                    print(line.line(), flush=True)
                costs += measured
    print(HEADER)
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for each in sorted(costs, key=lambda c: c.case):
        print(each.line())


def _basic(client_id: str, secret: str) -> str:
    import base64

    return base64.b64encode(f"{client_id}:{secret}".encode()).decode()


if __name__ == "__main__":
    asyncio.run(main())
