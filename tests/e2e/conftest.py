"""The whole stack as real processes on free ports, on fresh databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from deploy.stack import DEFAULT_PORTS, Stack, free_port
from tests.support.databases import fresh_database

OUTPUT = Path(__file__).resolve().parents[2] / "test-output"
ONE_PLAN = ("identity", "eligibility", "claims", "gateway")


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """Identity and one plan (Cascade Health Plan)."""
    tmp = tmp_path_factory.mktemp("stack")
    async with (
        fresh_database("identity", tmp) as identity_db,
        fresh_database("plan", tmp) as plan_db,
    ):
        ports = {name: free_port() for name in ONE_PLAN}
        running = Stack(
            tmp / "data", identity_db, plan_db, ports=ports, log_dir=OUTPUT / "e2e-logs"
        )
        await running.prepare()
        try:
            await running.start()
            yield running
        finally:
            await running.stop()


@pytest.fixture(scope="package")
async def two_plans(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """Identity and two plans, Cascade and Summit, each with its gateway and portal
    (one stack for every e2e module that needs two plans: it takes a while to start)."""
    tmp = tmp_path_factory.mktemp("two-plans")
    async with (
        fresh_database("identity", tmp) as identity_db,
        fresh_database("cascade", tmp) as cascade_db,
        fresh_database("summit", tmp) as summit_db,
    ):
        ports = {name: free_port() for name in DEFAULT_PORTS}
        running = Stack(
            tmp / "data",
            identity_db,
            cascade_db,
            ports=ports,
            log_dir=OUTPUT / "e2e-logs" / "two-plans",
            summit_db=summit_db,
        )
        await running.prepare()
        try:
            await running.start()
            yield running
        finally:
            await running.stop()
