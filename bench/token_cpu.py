"""CPU per client_credentials token at identity: what does not depend on machine load.

`python -m bench.token_cpu [ES256|RS256 ...]` starts identity alone on a fresh
PostgreSQL database (production workers, rate limits raised, as `make bench`), warms
up, then drives POST /token with wrk (32 keep-alive connections, the bench's body:
client_secret_basic, a scope and a resource) and reads the server processes'
utime + stime from /proc before and after. CPU per token = their difference over the
number of answered requests, which holds however busy the machine is; the req/s
printed beside it does not. With BENCH_PROFILE=out-prefix, py-spy records one
worker during the measured run (`<prefix>-<alg>.txt`, collapsed stacks).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import uuid
from pathlib import Path

from bench import wrk
from bench.cases import FORM, TINPASS_TOKEN_BODY, fetch_token, token_alg
from bench.harness import LOG_DIR, RAISED_LIMITS, basic, fresh_database, pool_env
from deploy.stack import BIN, Stack, free_port

TICKS = os.sysconf("SC_CLK_TCK")
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
SECONDS = float(os.environ.get("BENCH_DURATION", "10"))


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        for child in children:
            found += descendants(int(child))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of `pids`, in seconds."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / TICKS


async def profile(pid: int, out: Path, seconds: float) -> asyncio.subprocess.Process:
    py_spy = shutil.which("py-spy") or str(BIN / "py-spy")
    rate = os.environ.get("BENCH_PROFILE_RATE", "100")
    return await asyncio.create_subprocess_exec(
        py_spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", rate,
        "--format", "raw", "--output", str(out), "--nonblocking",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip


async def measure(alg: str) -> None:
    server = os.environ.get(
        "BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    )
    async with fresh_database(server, "identity") as identity_db:
        stack = Stack(
            data_dir=LOG_DIR / f"data-{uuid.uuid4().hex[:8]}",
            identity_db=identity_db,
            plan_db="",
            ports={"identity": free_port()},
            log_dir=LOG_DIR / "logs",
            extra_env={
                **RAISED_LIMITS,
                **pool_env(WORKERS),
                "IDENTITY_ACCESS_TOKEN_ALG": alg,
            },
            workers=WORKERS,
        )
        stack.data_dir.mkdir(parents=True, exist_ok=True)
        identity_cli = str(BIN / "identity")
        await stack.command("identity", identity_cli, "migrate")
        await stack.command(
            "identity", identity_cli, "seed-demo", "--data-dir", str(stack.data_dir)
        )
        try:
            await stack.start(("identity",))
            authorization = basic("acme-curl", stack.credentials()["acme-curl"])
            issued = token_alg(await fetch_token(stack.issuer, authorization, TINPASS_TOKEN_BODY))
            assert issued == alg, issued
            script = wrk.post_script(
                TINPASS_TOKEN_BODY, {"Content-Type": FORM, "Authorization": authorization}
            )
            url = stack.issuer + "/token"
            await wrk.run(url, script, 3)
            master = stack.processes["identity"].pid
            pids = descendants(master)
            spy = None
            if prefix := os.environ.get("BENCH_PROFILE"):
                worker = max(pids)
                spy = await profile(worker, Path(f"{prefix}-{alg}.txt"), SECONDS)
            before = cpu_seconds(pids)
            result = await wrk.run(url, script, SECONDS)
            used = cpu_seconds(pids) - before
            if spy is not None:
                await spy.wait()
            print(
                f"{alg}: {result.requests:,} tokens, {result.errors} errors, "
                f"{used * 1e3 / max(1, result.requests):.3f} ms CPU per token "
                f"({WORKERS} workers), {result.rps:,.0f} req/s p99 {result.p99_ms:.1f} ms "
                f"(load {os.getloadavg()[0]:.1f})",
                flush=True,
            )
        finally:
            await stack.stop()
            shutil.rmtree(stack.data_dir, ignore_errors=True)


def main(args: list[str]) -> None:
    for alg in args or ["ES256", "RS256"]:
        asyncio.run(measure(alg))


if __name__ == "__main__":
    main(sys.argv[1:])
