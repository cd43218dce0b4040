"""Forwarded headers are believed only from configured proxies, in the services as
`make run` starts them (uvicorn by deploy/stack.py). Uvicorn's default trusted
X-Forwarded-For from 127.0.0.1, so rotating it defeated the login throttle."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread
import httpx
import pytest

from deploy.stack import Stack, free_port
from identity.db import migrate
from tests.support.databases import fresh_database

pytestmark = pytest.mark.e2e


@asynccontextmanager
async def identity_process(tmp: Path, **env: str) -> AsyncIterator[str]:
    """Identity alone, started exactly as the stack starts it, on a fresh database."""
    async with fresh_database("identity", tmp) as url:
        await anyio.to_thread.run_sync(migrate, url)
        stack = Stack(
            tmp / "data",
            url,
            url,
            ports={"identity": free_port()},
            log_dir=tmp / "logs",
            extra_env={"IDENTITY_LOGIN_RATE_LIMIT": "3/minute", **env},
        )
        try:
            await stack.start(("identity",))
            yield stack.issuer
        finally:
            await stack.stop()


async def _login_statuses(issuer: str, forwarded_for: list[str]) -> list[int]:
    async with httpx.AsyncClient(base_url=issuer) as client:
        return [
            (
                await client.post(
                    "/login",
                    data={"username": "nobody", "password": "x"},
                    headers={"X-Forwarded-For": address},
                )
            ).status_code
            for address in forwarded_for
        ]


async def test_by_default_rotating_x_forwarded_for_does_not_pass_the_throttle(
    tmp_path: Path,
) -> None:
    rotating = [f"203.0.113.{n}" for n in range(1, 6)]
    async with identity_process(tmp_path) as issuer:
        statuses = await _login_statuses(issuer, rotating)
    assert statuses[:3] == [400, 400, 400], "refused for want of a form token, but counted"
    assert statuses[3:] == [429, 429], "all from 127.0.0.1, whatever the header says"


async def test_a_configured_proxy_is_believed(tmp_path: Path) -> None:
    rotating = [f"203.0.113.{n}" for n in range(1, 6)]
    same = ["198.51.100.9"] * 4
    async with identity_process(tmp_path, IDENTITY_TRUSTED_PROXIES="127.0.0.1") as issuer:
        rotated = await _login_statuses(issuer, rotating)
        repeated = await _login_statuses(issuer, same)
    assert rotated == [400] * 5, "each address from the proxy's header counted on its own"
    assert repeated == [400, 400, 400, 429], "the header's address is the one throttled"
