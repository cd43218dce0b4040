"""Size: filler rows for the large databases, and tables bounded under token load.

- Filler rows are made by PostgreSQL itself (INSERT … SELECT over generate_series, one
  statement per table, indexes kept): users copied from a demo user's row (one
  argon2id hash, computed by the seed, reused), provider records, members and one
  coverage each. They are never asked for; they are there to make the indexes and
  tables the hot queries search as large as the size says.
- Tables bounded: every identity table's rows (count) and size on disk
  (pg_total_relation_size) before and after issuing N client_credentials tokens
  (50,000 by default, 1,000,000 with BENCH_LARGE=1) and one janitor round; only audit
  tables may grow by them.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass

import asyncpg

from bench import wrk
from bench.cases import FORM, SETTLE_SECONDS, TINPASS_TOKEN_BODY
from bench.harness import Setup, plain_dsn
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
# Filler keys start with X: never a real NPI, TIN or member id, never asked for.
FILLER_PROVIDERS = """
INSERT INTO provider_records (npi, tin, name, taxonomy, network_status, effective_from)
SELECT 'X' || lpad(n::text, 9, '0'), 'X' || lpad((n / 4)::text, 8, '0'),
       'Bench Provider ' || n, '207Q00000X', 'in_network', DATE '2020-01-01'
FROM generate_series($1::int, $2::int) AS n
"""
FILLER_MEMBERS = """
INSERT INTO members (member_id, subscriber_id, relation, first_name, last_name, date_of_birth)
SELECT 'X' || lpad(n::text, 9, '0'), 'X' || lpad(n::text, 9, '0'), 'subscriber', 'Bench',
       'Member', DATE '1950-01-01' + n % 18000
FROM generate_series($1::int, $2::int) AS n
"""
FILLER_COVERAGES = """
INSERT INTO coverages (member_id, product_id, effective_date)
SELECT m.id, (SELECT min(id) FROM products), DATE '2024-01-01'
FROM members m
WHERE m.member_id LIKE 'X%' AND NOT EXISTS (SELECT 1 FROM coverages c WHERE c.member_id = m.id)
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
            tokens=int(os.environ.get("BENCH_TOKENS", "1000000" if large else "50000")),
        )


async def _fill(connection: asyncpg.Connection, table: str, insert: str, total: int) -> None:
    """Filler rows (keys starting with X, or `bench-user-`) until `table` has `total`."""
    have: int = await connection.fetchval(f"SELECT count(*) FROM {table}")
    if total <= have:
        return
    column, prefix = {
        "users": ("id", "bench-user-%"),
        "provider_records": ("npi", "X%"),
        "members": ("member_id", "X%"),
    }[table]
    filler: int = await connection.fetchval(
        f"SELECT count(*) FROM {table} WHERE {column} LIKE $1", prefix
    )
    started = time.monotonic()
    await connection.execute(insert, filler + 1, filler + total - have)
    print(f"  {table}: {have:,} -> {total:,} in {time.monotonic() - started:.0f} s", flush=True)


async def users_up_to(url: str, total: int) -> None:
    """Add filler users until identity has `total` users."""
    connection = await asyncpg.connect(plain_dsn(url))
    try:
        await _fill(connection, "users", FILLER_USERS, total)
    finally:
        await connection.close()
    await analyze(url)


async def plan_up_to(url: str, total: int) -> None:
    """Add filler provider records and members (each with a coverage) up to `total`."""
    connection = await asyncpg.connect(plain_dsn(url))
    try:
        await _fill(connection, "provider_records", FILLER_PROVIDERS, total)
        await _fill(connection, "members", FILLER_MEMBERS, total)
        await connection.execute(FILLER_COVERAGES)
    finally:
        await connection.close()
    await analyze(url)


async def analyze(url: str) -> None:
    """VACUUM ANALYZE: statistics and visibility as a database that has settled has them."""
    connection = await asyncpg.connect(plain_dsn(url))
    try:
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


TABLE_STATS = """
SELECT relname, pg_total_relation_size(relid) FROM pg_stat_user_tables ORDER BY relname
"""


async def table_stats(url: str) -> dict[str, tuple[int, int]]:
    """Every table's (rows, bytes with its indexes and TOAST)."""
    connection = await asyncpg.connect(plain_dsn(url))
    try:
        stats: dict[str, tuple[int, int]] = {}
        for name, size in await connection.fetch(TABLE_STATS):
            rows: int = await connection.fetchval(f'SELECT count(*) FROM "{name}"')
            stats[name] = (rows, size)
        return stats
    finally:
        await connection.close()


async def settled_stats(url: str, within: float = 60) -> dict[str, tuple[int, int]]:
    """Table stats once the row counts stop changing (requests queued by a previous
    case, such as logins waiting for argon2, finish first), or after `within` seconds."""
    stats = await table_stats(url)
    for _ in range(int(within / SETTLE_SECONDS)):
        await asyncio.sleep(SETTLE_SECONDS)
        again = await table_stats(url)
        if {t: r for t, (r, _) in again.items()} == {t: r for t, (r, _) in stats.items()}:
            return again
        stats = again
    return stats


@dataclass(frozen=True)
class Growth:
    tokens: int
    rps: float
    grown: dict[str, tuple[int, int]]  # table -> (rows, bytes) added, for tables that grew
    errors: int = 0  # failed token requests (not counted as issued)

    @property
    def worst_outside_audit(self) -> tuple[str, int]:
        outside = {t: n for t, (n, _) in self.grown.items() if "audit" not in t and n > 0}
        if not outside:
            return "", 0
        table = max(outside, key=lambda t: outside[t])
        return table, outside[table]

    def describe(self) -> str:
        return ", ".join(
            f"{t} {n:+,} rows {b / 2**20:+,.1f} MiB" for t, (n, b) in sorted(self.grown.items())
        )


async def tables_after_tokens(setup: Setup, tokens: int) -> Growth:
    """Issue `tokens` client_credentials tokens (wrk, in chunks), run one janitor round;
    which tables grew, in rows and bytes."""
    url = setup.stack.identity_db
    before = await settled_stats(url)
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
        print(f"  {issued:,} tokens issued", flush=True)
    await setup.stack.command("identity", str(BIN / "identity"), "janitor")
    after = await settled_stats(url)
    zero = (0, 0)
    grown = {
        t: (rows - before.get(t, zero)[0], size - before.get(t, zero)[1])
        for t, (rows, size) in after.items()
        if rows > before.get(t, zero)[0] or size > before.get(t, zero)[1]
    }
    return Growth(issued, issued / seconds, grown, errors)
