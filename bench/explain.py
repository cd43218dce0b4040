"""The plans of the statements a service really sends, EXPLAINed on a large database.

A capture run restarts one service with bench/sqlcapture on its PYTHONPATH and
BENCH_SQL_LOG set (every statement any SQLAlchemy engine sends is logged with its
parameters), makes a few requests, and puts the service back. Each distinct SELECT,
UPDATE or DELETE is then EXPLAINed with its own parameters (as literals) on the
database it ran against; a sequential scan of a table holding more than
`LARGE_TABLE` rows is a finding.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import asyncpg

from bench.harness import Setup, plain_dsn

CAPTURE = Path(__file__).resolve().parent / "sqlcapture"
LARGE_TABLE = 50_000
EXPLAINED = ("SELECT", "UPDATE", "DELETE", "WITH")


@dataclass
class Plans:
    statements: int = 0  # distinct statements explained
    scans: list[str] = field(default_factory=list)  # "table: statement" per seq scan of a big table
    failed: list[str] = field(default_factory=list)  # statements that could not be explained

    def describe(self, size: str) -> str:
        said = f"EXPLAIN at {size}: {self.statements} distinct statements, "
        said += "index scans only" if not self.scans else "SEQ SCAN " + "; ".join(self.scans)
        return said + (f" ({len(self.failed)} not explainable)" if self.failed else "")


async def captured(setup: Setup, service: str, requests: Callable[[], Awaitable[Any]]) -> list[Any]:
    """The statements `service` sends while `requests` run (the service restarted around)."""
    stack = setup.stack
    saved = stack.extra_env
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "sql.jsonl"
        path = os.pathsep.join(p for p in (str(CAPTURE), os.environ.get("PYTHONPATH")) if p)
        stack.extra_env = {**saved, "PYTHONPATH": path, "BENCH_SQL_LOG": str(log)}
        try:
            await stack.stop(service)
            await stack.start((service,))
            await requests()
        finally:
            stack.extra_env = saved
            await stack.stop(service)
            await stack.start((service,))
        text = log.read_text() if log.exists() else ""
    return [json.loads(line) for line in text.splitlines() if line]


def literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = value.isoformat() if isinstance(value, date | datetime) else str(value)
    return "'" + text.replace("'", "''") + "'"


def bound(sql: str, params: list[Any] | None) -> str:
    """`sql` with its $n placeholders replaced by the parameters as SQL literals."""
    values = list(params or [])
    return re.sub(r"\$(\d+)", lambda m: literal(values[int(m.group(1)) - 1]), sql)


def seq_scans(node: dict[str, Any]) -> list[str]:
    found = [node["Relation Name"]] if node.get("Node Type") == "Seq Scan" else []
    for child in node.get("Plans", []):
        found += seq_scans(child)
    return found


async def explain(url: str, statements: list[Any]) -> Plans:
    plans = Plans()
    distinct = {s["sql"]: s for s in statements if s["sql"].lstrip().upper().startswith(EXPLAINED)}
    connection = await asyncpg.connect(plain_dsn(url))
    try:
        sizes = dict(
            await connection.fetch(
                "SELECT relname, reltuples::bigint FROM pg_class WHERE relkind = 'r'"
            )
        )
        for sql, statement in distinct.items():
            try:
                text = bound(sql, statement["params"])
                result = await connection.fetchval(f"EXPLAIN (FORMAT JSON) {text}")
            except (asyncpg.PostgresError, IndexError) as error:
                plans.failed.append(f"{sql[:60]}: {error}")
                print(f"  not explained: {' '.join(sql.split())[:200]}: {error}", flush=True)
                continue
            plans.statements += 1
            root = json.loads(result)[0]["Plan"]
            short = " ".join(sql.split())[:100]
            plans.scans += [
                f"{t}: {short}" for t in seq_scans(root) if sizes.get(t, 0) > LARGE_TABLE
            ]
    finally:
        await connection.close()
    return plans
