"""Fixtures for the protocol tests: one running identity service per module."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.identity.harness import IdentityHarness, running_identity


@pytest.fixture(scope="module")
async def identity(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[IdentityHarness]:
    async with running_identity(tmp_path_factory.mktemp("identity")) as harness:
        yield harness
