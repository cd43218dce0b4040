"""Fixtures for the protocol tests: one running identity service per module."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.identity.harness import IdentityHarness, mailing_identity, running_identity
from tests.support.smtp import Inbox


@pytest.fixture(scope="module")
async def identity(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[IdentityHarness]:
    async with running_identity(tmp_path_factory.mktemp("identity")) as harness:
        yield harness


@pytest.fixture(scope="module")
async def mailing(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[IdentityHarness, Inbox]]:
    """An identity service whose mail goes to a real SMTP server (aiosmtpd)."""
    async with mailing_identity(tmp_path_factory.mktemp("mail")) as (identity, inbox):
        yield identity, inbox
