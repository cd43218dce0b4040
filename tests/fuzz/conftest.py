"""The whole stack as real processes (identity and one plan) for the API fuzzer,
on fresh databases of the suite's kind (TINPASS_TEST_DB), and real tokens for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from deploy.stack import Stack, free_port
from tests.fuzz.actors import (
    ADMIN_SCOPE,
    CONSOLE,
    PLAN_SCOPE,
    PORTAL,
    integrator_token,
    user_token,
)
from tests.support.databases import fresh_database

OUTPUT = Path(__file__).resolve().parents[2] / "test-output"
SERVICES = ("identity", "eligibility", "claims", "gateway")
# The fuzzer sends thousands of requests from one address with one client: the
# gateway's rate limits (tested in tests/gateway) would answer most of them 429.
UNLIMITED = {
    "GATEWAY_RATE_LIMIT_PER_CLIENT": "1000000/minute",
    "GATEWAY_RATE_LIMIT_PER_ADDRESS": "1000000/minute",
}


@dataclass(frozen=True)
class Tokens:
    """Real access tokens from identity, by who holds them."""

    admin_console: str  # ever.admin, scope tinpass:admin (identity's admin API)
    subscriber_console: str  # sam.biller, scope tinpass:admin, but administers nothing
    operator_console: str  # ops.olivia, a TINpass operator
    admin_plan: str  # ever.admin at the plan (portal client)
    subscriber_plan: str  # sam.biller at the plan (portal client)
    integrator: str  # acme-integrator (client_credentials, private_key_jwt)


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    tmp = tmp_path_factory.mktemp("fuzz")
    async with (
        fresh_database("identity", tmp) as identity_db,
        fresh_database("plan", tmp) as plan_db,
    ):
        ports = {name: free_port() for name in SERVICES}
        running = Stack(
            tmp / "data",
            identity_db,
            plan_db,
            ports=ports,
            log_dir=OUTPUT / "fuzz-logs",
            extra_env=UNLIMITED,
        )
        await running.prepare()
        try:
            await running.start()
            yield running
        finally:
            await running.stop()


@pytest.fixture(scope="module")
async def tokens(stack: Stack) -> Tokens:
    return Tokens(
        admin_console=await user_token(stack, "ever.admin", CONSOLE, ADMIN_SCOPE),
        subscriber_console=await user_token(stack, "sam.biller", CONSOLE, ADMIN_SCOPE),
        operator_console=await user_token(stack, "ops.olivia", CONSOLE, ADMIN_SCOPE),
        admin_plan=await user_token(stack, "ever.admin", PORTAL, PLAN_SCOPE),
        subscriber_plan=await user_token(stack, "sam.biller", PORTAL, PLAN_SCOPE),
        integrator=await integrator_token(stack),
    )
