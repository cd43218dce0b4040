"""Cases about size: cost stays flat as the data grows; tables stay bounded.

- Flat cost: the eligibility inquiry (direct) and password login measured with a
  base number of members and users (10,000) and again with many more (100,000 by
  default, 1,000,000 with BENCH_LARGE=1); the ratio is base req/s ÷ large req/s.
  Members come from provider data's own generator (a second plan database); users
  are filler rows copied from a demo user in bulk (no argon2 hashing per row).
- Tables bounded: the row count of every identity table before and after issuing
  N client_credentials tokens (10,000 by default, 1,000,000 with BENCH_LARGE=1);
  only audit tables may grow by them.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass

import asyncpg

from bench import wrk
from bench.cases import FORM, SETTLE_SECONDS, TINPASS_TOKEN_BODY, Measured
from bench.harness import Setup, fresh_database, plain_dsn
from deploy.stack import BIN

FILLER_USERS = """
INSERT INTO users (id, username, username_normalized, email, email_normalized, given_name,
                   family_name, password_hash, status, created_at, failed_logins, lockouts,
                   is_operator)
SELECT 'bench-user-' || lpad(n::text, 12, '0'), 'bench.user.' || n, 'bench.user.' || n,
       'bench.user.' || n || '@bench.example', 'bench.user.' || n || '@bench.example',
       'Bench', 'User', seed.password_hash, 'active', now(), 0, 0, false
FROM generate_series($1::int, $2::int) AS n,
     (SELECT password_hash FROM users WHERE username_normalized = 'sam.biller') AS seed
"""


@dataclass(frozen=True)
class Sizes:
    base: int
    large: int
    tokens: int

    @classmethod
    def from_env(cls) -> Sizes:
        large = os.environ.get("BENCH_LARGE") == "1"
        return cls(
            base=int(os.environ.get("BENCH_BASE_SIZE", "10000")),
            large=int(os.environ.get("BENCH_LARGE_SIZE", "1000000" if large else "100000")),
            tokens=int(os.environ.get("BENCH_TOKENS", "1000000" if large else "10000")),
        )


async def users_up_to(url: str, total: int) -> int:
    """Add filler users until identity has `total` users; the count now."""
    connection = await asyncpg.connect(plain_dsn(url))
    try:
        have: int = await connection.fetchval("SELECT count(*) FROM users")
        filler: int = await connection.fetchval(
            "SELECT count(*) FROM users WHERE id LIKE 'bench-user-%'"
        )
        if total > have:
            await connection.execute(FILLER_USERS, filler + 1, filler + total - have)
        count: int = await connection.fetchval("SELECT count(*) FROM users")
        return count
    finally:
        await connection.close()


async def row_counts(url: str) -> dict[str, int]:
    connection = await asyncpg.connect(plain_dsn(url))
    try:
        tables = await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        counts: dict[str, int] = {}
        for record in tables:
            name = record["tablename"]
            counts[name] = await connection.fetchval(f'SELECT count(*) FROM "{name}"')
        return counts
    finally:
        await connection.close()


async def settled_counts(url: str, within: float = 60) -> dict[str, int]:
    """Row counts once they stop changing (requests queued by a previous case, such
    as logins waiting for argon2, finish first), or after `within` seconds."""
    counts = await row_counts(url)
    for _ in range(int(within / SETTLE_SECONDS)):
        await asyncio.sleep(SETTLE_SECONDS)
        again = await row_counts(url)
        if again == counts:
            break
        counts = again
    return counts


@dataclass(frozen=True)
class Growth:
    tokens: int
    rps: float
    grown: dict[str, int]  # table -> rows added, for every table that grew
    errors: int = 0  # failed token requests (not counted as issued)

    @property
    def worst_outside_audit(self) -> tuple[str, int]:
        outside = {t: n for t, n in self.grown.items() if "audit" not in t}
        if not outside:
            return "", 0
        table = max(outside, key=lambda t: outside[t])
        return table, outside[table]


async def tables_after_tokens(setup: Setup, tokens: int) -> Growth:
    """Issue `tokens` client_credentials tokens (wrk, in chunks); which tables grew."""
    url = setup.stack.identity_db
    before = await settled_counts(url)
    headers = {"Content-Type": FORM, "Authorization": setup.tinpass_authorization()}
    script = wrk.post_script(TINPASS_TOKEN_BODY, headers)
    issued, errors, seconds, rate = 0, 0, 0.0, 200.0
    while issued < tokens:
        chunk = min(60.0, max(1.0, (tokens - issued) / rate))
        result = await wrk.run(setup.stack.issuer + "/token", script, chunk)
        if result.requests <= result.errors:
            raise RuntimeError(f"token requests failed while filling: {result}")
        issued += result.requests - result.errors  # errors (e.g. timeouts) are not counted
        errors, seconds = errors + result.errors, seconds + result.seconds
        rate = max(result.rps, 1.0)
    after = await settled_counts(url)
    grown = {t: after[t] - before.get(t, 0) for t in after if after[t] > before.get(t, 0)}
    return Growth(issued, issued / seconds, grown, errors)


async def eligibility_with_members(
    setup: Setup, members: int, measure: Callable[[], Awaitable[Measured]]
) -> Measured:
    """`measure` with the eligibility service on a plan database of `members` members."""
    stack = setup.stack
    base_db = stack.plan_db
    plan_cli = str(BIN / "provider-data")
    async with AsyncExitStack() as exits:
        large_db = await exits.enter_async_context(fresh_database(setup.server, "large"))
        stack.plan_db = large_db
        try:
            print(f"Seeding a plan with {members:,} generated members...", flush=True)
            await stack.command("claims", plan_cli, "migrate")
            await stack.command("claims", plan_cli, "seed-demo", f"--members={members}")
            await stack.stop("eligibility")
            await stack.start(("eligibility",))
            measured = await measure()
        finally:
            stack.plan_db = base_db
            await stack.stop("eligibility")
            await stack.start(("eligibility",))
    return measured
