"""The size cases' own parts, without a benchmark: binding captured statements for
EXPLAIN, finding sequential scans in a plan, the interleaved costs' arithmetic, CPU
time from /proc."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

import pytest

from bench import cpu, explain, flat, wrk
from bench.scale import Growth


def test_captured_parameters_become_literals_in_place() -> None:
    sql = "SELECT * FROM users WHERE a = $1 AND b = $10 AND c = $2 AND d IS $3 LIMIT $4"
    params = ["o'k", 2, None, 5, 0, 0, 0, 0, 0, datetime(2026, 1, 2, tzinfo=UTC)]
    assert explain.bound(sql, params) == (
        "SELECT * FROM users WHERE a = 'o''k' AND b = '2026-01-02T00:00:00+00:00' "
        "AND c = 2 AND d IS NULL LIMIT 5"
    )
    assert explain.literal(True) == "true"


def test_sequential_scans_are_found_at_any_depth() -> None:
    plan = {
        "Node Type": "Nested Loop",
        "Plans": [
            {"Node Type": "Index Scan", "Relation Name": "members"},
            {"Node Type": "Hash", "Plans": [{"Node Type": "Seq Scan", "Relation Name": "big"}]},
        ],
    }
    assert explain.seq_scans(plan) == ["big"]
    described = explain.Plans(3, ["big: SELECT 1"]).describe("1,000,000")
    assert "SEQ SCAN big: SELECT 1" in described
    assert "index scans only" in explain.Plans(3).describe("1,000,000")


def test_costs_are_medians_of_ms_per_request_at_fixed_concurrency() -> None:
    costs = flat.Costs()
    for size, requests in ((10, 1000), (20, 900), (10, 500), (20, 1000), (10, 1000), (20, 1000)):
        costs.add(size, wrk.WrkResult(requests, 5.0, 1.0, 2.0, 0), per=1)
    per_request = flat.LOW_CONNECTIONS * 5000 / 1000
    assert costs.median(10) == pytest.approx(per_request)
    assert costs.median(20) == pytest.approx(per_request)
    logins = flat.Costs()
    logins.add(10, wrk.WrkResult(100, 5.0, 1.0, 2.0, 1), per=2, cpu_seconds=2.5)
    assert logins.median(10) == pytest.approx(flat.LOW_CONNECTIONS * 5000 / 50)
    assert logins.median(10, cpu=True) == pytest.approx(2500 / 50), "CPU ms per login"
    assert logins.errors == 1


def test_growth_names_the_worst_table_outside_the_audit_trail() -> None:
    growth = Growth(100, 50.0, {"audit_events": (100, 65536), "clients": (0, 8192)})
    assert growth.worst_outside_audit == ("", 0), "a size change alone is not a row"
    assert "clients +0 rows +0.0 MiB" in growth.describe()
    grew = Growth(100, 50.0, {"audit_events": (100, 0), "sessions": (3, 0), "x": (1, 0)})
    assert grew.worst_outside_audit == ("sessions", 3)


def test_cpu_time_is_read_per_process_from_proc() -> None:
    before = {os.getpid(): cpu.seconds(os.getpid()), 999_999_999: 1.0}
    deadline = time.process_time() + 0.1
    while time.process_time() < deadline:
        pass
    after = {os.getpid(): cpu.seconds(os.getpid()), 4: 7.0}
    assert 0.05 <= cpu.spent(before, after) <= 1.0, "only processes in both snapshots count"
    assert cpu.seconds(999_999_999) == 0.0, "a process that is gone spent nothing more"
