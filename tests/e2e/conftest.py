"""The whole stack as real processes on free ports, on fresh databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from deploy.stack import Stack, free_port
from tests.support.databases import fresh_database

OUTPUT = Path(__file__).resolve().parents[2] / "test-output"


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    tmp = tmp_path_factory.mktemp("stack")
    async with (
        fresh_database("identity", tmp) as identity_db,
        fresh_database("plan", tmp) as plan_db,
    ):
        ports = {name: free_port() for name in ("identity", "eligibility", "claims", "gateway")}
        running = Stack(
            tmp / "data", identity_db, plan_db, ports=ports, log_dir=OUTPUT / "e2e-logs"
        )
        await running.prepare()
        try:
            await running.start()
            yield running
        finally:
            await running.stop()
