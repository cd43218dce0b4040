"""CPU per request of the hot paths, in process: what does not depend on machine load.

Each path is driven one request at a time through the ASGI app (httpx's ASGI
transport, the app's lifespan running, the database from TINPASS_TEST_DB: sqlite by
default, or postgresql), and the figure is the event loop thread's CPU clock
(`time.thread_time`) per request: the app's work, the database driver's and the
client's share of httpx; beside it (PostgreSQL) the median CPU per request of the
database's backends (`/proc/<pid>/stat`, 10 ms ticks: a coarse figure). Password
hashing runs in its own threads, so a login's figure is its non-hash CPU. Rounds of
BENCH_CPU_REQUESTS (100) after a warm-up; the median and the best round are printed
(the CPU clock does not see other processes, but they still share the caches and
the cores: on a loaded machine compare medians back to back only).

- login: GET /authorize (the form, a CSRF cookie), then POST /login (session, code,
  audit events): the two requests of one login;
- token ES256 / RS256: POST /token, client_credentials, client_secret_basic;
- eligibility: one active member's inquiry, direct to the service.

BENCH_CPU_PROFILE=prefix writes a cProfile of one more round of each path to
`<prefix>-<path>.prof`. BENCH_CPU_PATHS=login,token,eligibility picks paths.
"""

from __future__ import annotations

import cProfile
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path

from sqlalchemy import text

from policy.dbpool import create_engine
from tests.identity.harness import PASSWORD, PORTAL, PORTAL_REDIRECT, running_identity
from tests.support.oidc import Pkce, authorize_url, form_fields, query_of

REQUESTS = int(os.environ.get("BENCH_CPU_REQUESTS", "100"))
ROUNDS = int(os.environ.get("BENCH_CPU_ROUNDS", "7"))
PROFILE = os.environ.get("BENCH_CPU_PROFILE", "")
TICKS = os.sysconf("SC_CLK_TCK")
PATHS = os.environ.get("BENCH_CPU_PATHS", "login,token,eligibility").split(",")

Call = Callable[[], Awaitable[None]]


async def backends(url: str) -> list[int]:
    """The PostgreSQL backends serving `url`'s database (none on SQLite)."""
    if not url.startswith("postgresql"):
        return []
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            found = await conn.execute(
                text(
                    "SELECT pid FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            return [int(pid) for (pid,) in found]
    finally:
        await engine.dispose()


def cpu_of(pids: list[int]) -> float:
    """utime + stime of processes (seconds); a process gone meanwhile counts 0."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


async def rounds(name: str, one: Call, url: str) -> None:
    """Print CPU ms per request of `one`: the event loop's and the database's."""
    for _ in range(10):
        await one()
    figures, database = [], []
    for _ in range(ROUNDS):
        pids = await backends(url)
        db_started = cpu_of(pids)
        started = time.thread_time()
        for _ in range(REQUESTS):
            await one()
        figures.append((time.thread_time() - started) * 1000 / REQUESTS)
        database.append((cpu_of(pids) - db_started) * 1000 / REQUESTS)
    if PROFILE:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(REQUESTS):
            await one()
        profiler.disable()
        profiler.dump_stats(f"{PROFILE}-{name}.prof")
    median, best = statistics.median(figures), min(figures)
    db = statistics.median(database)
    print(f"| {name:<24} | {median:8.3f} | {best:8.3f} | {db:8.2f} |", flush=True)


async def login_path(tmp: Path) -> None:
    async with running_identity(tmp) as identity, identity.client() as browser:

        async def one() -> None:
            page = await browser.get(authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new()))
            fields = form_fields(page.text)
            fields.pop("__action__")
            fields.update(username="sam.biller", password=PASSWORD)
            answer = await browser.post("/login", data=fields)
            assert answer.status_code == 302 and "code" in query_of(answer.headers["location"])
            browser.cookies.delete("tinpass_sso")

        await rounds("login (GET + POST)", one, identity.settings.database_url)


async def token_path(tmp: Path, alg: str) -> None:
    async with (
        running_identity(tmp, access_token_alg=alg) as identity,
        identity.client() as client,
    ):
        auth = ("acme-curl", identity.credentials.curl_secret)

        async def one() -> None:
            answer = await client.post(
                "/token", data={"grant_type": "client_credentials"}, auth=auth
            )
            assert answer.status_code == 200, answer.text

        await rounds(f"token {alg}", one, identity.settings.database_url)


async def eligibility_path(tmp: Path) -> None:
    import anyio.to_thread

    from policy import TokenVerifier
    from provider_data.api import eligibility
    from provider_data.data.seed import seed_demo
    from provider_data.platform.db import create_engine, migrate, session_factory
    from tests.provider_data.conftest import plan_settings, serve
    from tests.support.databases import fresh_database
    from tests.support.tokens import AUDIENCE, ISSUER, JWKS_URI, TestIssuer

    issuer = TestIssuer()
    async with fresh_database("plan", tmp) as url, AsyncExitStack() as stack:
        await anyio.to_thread.run_sync(migrate, url)
        engine = create_engine(url)
        async with session_factory(engine)() as session:
            await seed_demo(session)
            await session.commit()
        await engine.dispose()
        jwks_client = await stack.enter_async_context(issuer.http_client())
        verifier = TokenVerifier(ISSUER, AUDIENCE, JWKS_URI, http_client=jwks_client)
        client = await serve(stack, eligibility.create_app, plan_settings(url), verifier)
        headers = {"Authorization": f"Bearer {issuer.mint()}"}
        body = {"member_id": "M1000101", "date_of_birth": "1985-04-12"}

        async def one() -> None:
            answer = await client.post("/eligibility/v1/inquiries", json=body, headers=headers)
            assert answer.status_code == 200, answer.text

        await rounds("eligibility (direct)", one, url)


async def run() -> None:
    database = os.environ.get("TINPASS_TEST_DB", "sqlite")
    print(f"{database}; CPU ms per request, event loop thread, {ROUNDS} rounds of {REQUESTS}")
    print("| path                     |   median |     best | database |")
    print("| ------------------------ | -------: | -------: | -------: |")
    with tempfile.TemporaryDirectory() as tmp:
        if "login" in PATHS:
            await login_path(Path(tmp) / "login")
        if "token" in PATHS:
            for alg in ("ES256", "RS256"):
                await token_path(Path(tmp) / alg, alg)
        if "eligibility" in PATHS:
            await eligibility_path(Path(tmp) / "plan")
