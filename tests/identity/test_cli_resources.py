"""Operators give a client its plans (RFC 8707 resources) from the command line."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from identity.models import AuditEvent, Client
from identity.settings import CASCADE_RESOURCE, SUMMIT_RESOURCE
from tests.identity.test_cli import run


@pytest.fixture(autouse=True)
def database(identity_db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", identity_db_url)


async def test_create_client_and_set_resources(
    sessions: async_sessionmaker[AsyncSession], capsys: pytest.CaptureFixture[str]
) -> None:
    made = ["create-client", "plan-app", "Plan app", "--kind", "confidential"]
    made += ["--auth-method", "client_secret_basic", "--grant-type", "authorization_code"]
    made += ["--scope", "openid", "--redirect-uri", "https://app.example/cb"]
    assert await run(*made, "--resource", SUMMIT_RESOURCE) == 0
    assert await run("set-resources", "plan-app", CASCADE_RESOURCE, SUMMIT_RESOURCE) == 0
    assert await run("set-resources", "plan-app", "https://elsewhere.example") == 2
    assert "unknown resource https://elsewhere.example" in capsys.readouterr().err
    async with sessions() as session:
        client = await session.get(Client, "plan-app")
        event = await session.scalar(
            select(AuditEvent).where(AuditEvent.event == "client.resources_changed")
        )
    assert client is not None and client.resources == [CASCADE_RESOURCE, SUMMIT_RESOURCE]
    assert event is not None and event.details["before"] == [SUMMIT_RESOURCE]
