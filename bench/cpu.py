"""CPU time spent on a case, from /proc: what a request costs whatever else the
machine runs (wall-clock rates and latency are not reliable on a shared machine).

The processes counted are a service's uvicorn processes (the parent and its workers,
hashing threads included) and the PostgreSQL backends connected to its database.
"""

from __future__ import annotations

import os
from pathlib import Path

import asyncpg

from bench.harness import plain_dsn

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # gone
        return None
    return text.rpartition(")")[2].split()  # fields from the state on (the name may hold spaces)


def seconds(pid: int) -> float:
    """User + system CPU seconds of `pid` (0 when it is gone)."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / TICK if fields else 0.0


def children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields and int(fields[1]) == parent:
                found.append(int(entry.name))
    return found


async def backends(url: str) -> list[int]:
    """The PostgreSQL backends connected to database `url` (but this query's own)."""
    connection = await asyncpg.connect(plain_dsn(url))
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
    finally:
        await connection.close()
    return [r["pid"] for r in rows]


async def snapshot(parent: int, url: str) -> dict[int, float]:
    """CPU seconds so far of a service (uvicorn `parent` and its workers) and of the
    backends connected to its database."""
    pids = [parent, *children(parent), *await backends(url)]
    return {pid: seconds(pid) for pid in pids}


def spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds between two snapshots, over the processes in both."""
    return sum(after[pid] - before[pid] for pid in after if pid in before)
