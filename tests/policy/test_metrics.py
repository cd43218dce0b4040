"""policy.metrics: every worker's values in one /metrics (multiprocess mode), live
gauges of dead workers dropped, the database pool's connections in use."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import text

from policy import metrics
from policy.dbpool import create_engine
from tests.support.databases import fresh_database
from tests.support.metrics import parse, value

WORKER = textwrap.dedent(
    """
    import sys
    from policy import metrics
    metrics.TOKENS_ISSUED("client_credentials").inc(int(sys.argv[1]))
    metrics.POOL_IN_USE("mp-test").inc(int(sys.argv[1]))
    metrics.SEALED_AT("mp-test").set(float(sys.argv[1]))
    sys.stdout.write(metrics.exposition().decode())
    """
)


def run_worker(directory: Path, count: int) -> str:
    env = {"PROMETHEUS_MULTIPROC_DIR": str(directory), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", WORKER, str(count)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout


def test_two_worker_processes_are_reported_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = parse(run_worker(tmp_path, 2))
    assert value(first, "tinpass_tokens_issued_total", grant_type="client_credentials") == 2
    second = parse(run_worker(tmp_path, 3))  # its /metrics: both workers' values
    assert value(second, "tinpass_tokens_issued_total", grant_type="client_credentials") == 5
    assert value(second, "tinpass_audit_sealed_timestamp_seconds", trail="mp-test") == 3
    assert value(second, "tinpass_db_pool_connections_in_use", service="mp-test") == 3, (
        "the first worker is gone: its live gauge no longer counts"
    )
    monkeypatch.setenv(metrics.MULTIPROC_ENV, str(tmp_path))
    now = parse(metrics.exposition().decode())  # a scrape after both exited
    assert value(now, "tinpass_tokens_issued_total", grant_type="client_credentials") == 5
    assert ("tinpass_db_pool_connections_in_use", frozenset({("service", "mp-test")})) not in now


async def test_pool_connections_in_use_follow_checkouts(tmp_path: Path) -> None:
    async with fresh_database("pool", tmp_path) as url:
        engine = create_engine(url)
        metrics.watch_pool(engine, "pool-test")
        in_use = metrics.POOL_IN_USE("pool-test")
        try:
            start = in_use._value.get()
            async with engine.connect() as first, engine.connect() as second:
                await first.execute(text("SELECT 1"))
                await second.execute(text("SELECT 1"))
                assert in_use._value.get() == start + 2
            assert in_use._value.get() == start
            samples = parse(metrics.exposition().decode())
            assert value(samples, "tinpass_db_pool_connections_max", service="pool-test") >= 1
        finally:
            metrics.unwatch_pool(engine, "pool-test")
            await engine.dispose()


def test_sealing_lag_is_the_age_of_the_oldest_event_sealed() -> None:
    from datetime import UTC, datetime, timedelta

    metrics.sealed("lag-test", datetime.now(UTC) - timedelta(seconds=3))
    samples = parse(metrics.exposition().decode())
    assert 3 <= value(samples, "tinpass_audit_sealing_lag_seconds", trail="lag-test") < 30
    metrics.sealed("lag-test", None)
    samples = parse(metrics.exposition().decode())
    assert value(samples, "tinpass_audit_sealing_lag_seconds", trail="lag-test") == 0
