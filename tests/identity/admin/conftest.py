"""Fixtures for the protocol tests: one running identity service per module."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.identity.harness import IdentityHarness, running_identity
from tests.support.smtp import Inbox, smtp_server


@pytest.fixture(scope="module")
async def identity(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[IdentityHarness]:
    async with running_identity(tmp_path_factory.mktemp("identity")) as harness:
        yield harness


@pytest.fixture(scope="module")
async def mailing(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[IdentityHarness, Inbox]]:
    """An identity service whose mail goes to a real SMTP server (aiosmtpd)."""
    with smtp_server() as (inbox, port):
        options = {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_starttls": False}
        async with running_identity(tmp_path_factory.mktemp("mail"), **options) as identity:
            yield identity, inbox
