"""The processes `make bench` measures, set up on a fresh machine and always cleaned up.

- TINpass on PostgreSQL: fresh databases for identity and the plan, migrated and
  seeded with the services' own command lines (deploy.stack), each service under
  uvicorn with `workers` processes, rate limits raised so the bench measures
  throughput rather than throttling. Synchronous commit stays PostgreSQL's default.
- The reference OpenID Provider, panva's oidc-provider 9.x (bench/reference), one
  node process, installed with npm into bench/reference/node_modules.

Both are stopped (and the databases dropped) on the way out, also on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from deploy.stack import Stack, free_port

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_DIR = Path(__file__).resolve().parent / "reference"
LOG_DIR = ROOT / "test-output" / "bench"
DEFAULT_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
ONE_PLAN = ("identity", "eligibility", "claims", "gateway")
REF_CLIENT_ID = "bench-client"
REF_CLIENT_SECRET = "bench-secret-0123456789abcdef"
REF_RESOURCE = "https://api.bench.example"
REF_SCOPE = "api:read"
# Per second, so the in-memory moving windows stay short; high enough never to refuse.
RAISED = "1000000/second"
RAISED_LIMITS = {
    "IDENTITY_LOGIN_RATE_LIMIT": RAISED,
    "IDENTITY_TOKEN_RATE_LIMIT": RAISED,
    "GATEWAY_RATE_LIMIT_PER_CLIENT": RAISED,
    "GATEWAY_RATE_LIMIT_PER_ADDRESS": RAISED,
}


def plain_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@asynccontextmanager
async def fresh_database(server: str, name: str, template: str = "") -> AsyncIterator[str]:
    """A new PostgreSQL database on `server` for the bench (a copy of database URL
    `template`, which nobody may be connected to), dropped afterwards."""
    dbname = f"tinpass_bench_{name}_{uuid.uuid4().hex[:8]}"
    copy = f' TEMPLATE "{template.rpartition("/")[2]}"' if template else ""
    admin = await asyncpg.connect(plain_dsn(server))
    try:
        await admin.execute(f'CREATE DATABASE "{dbname}"{copy}')
    finally:
        await admin.close()
    try:
        yield f"{server.rpartition('/')[0]}/{dbname}"
    finally:
        admin = await asyncpg.connect(plain_dsn(server))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        finally:
            await admin.close()


async def synchronous_commit(url: str) -> str:
    connection = await asyncpg.connect(plain_dsn(url))
    try:
        value: str = await connection.fetchval("SHOW synchronous_commit")
        return value
    finally:
        await connection.close()


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@dataclass
class Reference:
    """oidc-provider in one node process."""

    port: int = field(default_factory=free_port)
    process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def authorization(self) -> str:
        return basic(REF_CLIENT_ID, REF_CLIENT_SECRET)

    @staticmethod
    def install() -> None:
        """npm ci (the lock file pins oidc-provider) unless node_modules is there."""
        if (REFERENCE_DIR / "node_modules" / "oidc-provider").is_dir():
            return
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is needed for the reference provider (Node.js 20 or later)")
        print("Installing the reference provider (npm ci in bench/reference)...", flush=True)
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=REFERENCE_DIR,
            check=True,
        )

    async def start(self, log: Path) -> None:
        self.install()
        env = {
            **os.environ,
            "NODE_ENV": "production",
            "REF_PORT": str(self.port),
            "REF_CLIENT_ID": REF_CLIENT_ID,
            "REF_CLIENT_SECRET": REF_CLIENT_SECRET,
            "REF_RESOURCE": REF_RESOURCE,
            "REF_SCOPE": REF_SCOPE,
        }
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                shutil.which("node") or "node",
                str(REFERENCE_DIR / "server.js"),
                cwd=REFERENCE_DIR,
                env=env,
                stdout=out,
                stderr=out,
            )
        await wait_until_answers(self.url + "/.well-known/openid-configuration", self.process)

    async def stop(self) -> None:
        await terminate(self.process)


async def terminate(process: asyncio.subprocess.Process | None) -> None:
    if process is None or process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), timeout=10)
    except TimeoutError:
        process.kill()
        await process.wait()


async def wait_until_answers(
    url: str, process: asyncio.subprocess.Process, within: float = 30
) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise RuntimeError(f"{url}: the process exited with {process.returncode}")
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {within} s")


@dataclass
class Setup:
    """What the cases run against."""

    stack: Stack
    reference: Reference
    server: str  # the PostgreSQL server URL (for more databases)
    workers: int

    def tinpass_authorization(self) -> str:
        return basic("acme-curl", self.stack.credentials()["acme-curl"])


def pool_env(workers: int) -> dict[str, str]:
    per_worker = max(4, -(-32 // workers))  # wrk's connections, spread over the workers
    provider = max(4, per_worker * 3 // 4)
    return {
        "IDENTITY_DB_POOL_SIZE": str(per_worker),
        "IDENTITY_DB_MAX_OVERFLOW": "0",
        "PROVIDER_DATA_DB_POOL_SIZE": str(provider),
        "PROVIDER_DATA_DB_MAX_OVERFLOW": "0",
    }


def hash_threads(workers: int) -> int:
    """Identity's password-hashing threads per worker: CPUs ÷ workers (README's advice)."""
    return max(1, (os.cpu_count() or 1) // workers)


def worker_count() -> int:
    return int(os.environ.get("BENCH_WORKERS") or os.cpu_count() or 1)


@asynccontextmanager
async def running(members: int) -> AsyncIterator[Setup]:
    """Identity and one plan (seeded with `members` generated members) on fresh
    PostgreSQL databases with production workers, and the reference provider."""
    server = os.environ.get("BENCH_POSTGRES_URL", DEFAULT_SERVER)
    workers = worker_count()
    async with AsyncExitStack() as exits:
        identity_db = await exits.enter_async_context(fresh_database(server, "identity"))
        plan_db = await exits.enter_async_context(fresh_database(server, "plan"))
        stack = Stack(
            data_dir=LOG_DIR / f"data-{uuid.uuid4().hex[:8]}",
            identity_db=identity_db,
            plan_db=plan_db,
            ports={name: free_port() for name in ONE_PLAN},
            log_dir=LOG_DIR / "logs",
            extra_env={
                **RAISED_LIMITS,
                "PROVIDER_DATA_DEMO_MEMBERS": str(members),
                # Production advice (README): hash threads per worker = CPUs / workers.
                "IDENTITY_PASSWORD_HASH_THREADS": str(hash_threads(workers)),
                # Pools sized to wrk's 32 connections spread over the workers, so the three
                # database services stay under PostgreSQL's max_connections (100 here).
                **pool_env(workers),
            },
            workers=workers,
            start_within=120,  # a shared machine's load can make a start slow, not wrong
        )
        exits.callback(shutil.rmtree, stack.data_dir, True)
        print(f"Migrating and seeding fresh databases ({members:,} generated members)...")
        await stack.prepare()
        exits.push_async_callback(stack.stop)
        await stack.start()
        reference = Reference()
        exits.push_async_callback(reference.stop)
        await reference.start(LOG_DIR / "logs" / "reference.log")
        yield Setup(stack, reference, server, workers)
