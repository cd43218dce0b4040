"""Second factors under concurrency: the same TOTP code, or the same recovery code,
sent by many parallel requests signs in exactly once (a conditional UPDATE decides).

The race needs a database with row locks and concurrent writers: it runs on
PostgreSQL (`TINPASS_TEST_DB=postgresql`, part of `make test`); SQLite serializes
writers, so there is nothing to race.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import select, update

from identity import mfa
from identity.models import User
from tests.identity.harness import PASSWORD, PORTAL, PORTAL_REDIRECT, IdentityHarness
from tests.identity.web.test_account_mfa import fresh_code, person_with_mfa
from tests.support.databases import db_kind
from tests.support.oidc import Pkce, authorize_url, form_fields, sign_in

pytestmark = pytest.mark.skipif(
    db_kind() != "postgresql", reason="a race of concurrent writers needs PostgreSQL"
)
PARALLEL = 10
ROUNDS = 3


async def code_form(
    identity: IdentityHarness, browser: httpx.AsyncClient, username: str
) -> dict[str, str]:
    """The code step's form fields after the password step (its ticket lasts minutes)."""
    page = await sign_in(
        browser, authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new()), username, PASSWORD
    )
    assert page.status_code == 200 and 'name="code"' in page.text, page.text
    fields = form_fields(page.text)
    assert fields.pop("__action__") == "/login/mfa"
    return fields


async def race(browser: httpx.AsyncClient, fields: dict[str, str], code: str) -> list[int]:
    """PARALLEL submissions of the same code at once; their status codes."""
    responses = await asyncio.gather(
        *(browser.post("/login/mfa", data={**fields, "code": code}) for _ in range(PARALLEL))
    )
    return [r.status_code for r in responses]


async def unlock(identity: IdentityHarness, username: str) -> None:
    """Losers count as failed sign-ins; start each round unlocked."""
    async with identity.session() as session:
        await session.execute(
            update(User)
            .where(User.username == username)
            .values(failed_logins=0, locked_until=None, lockouts=0)
        )
        await session.commit()


async def test_one_totp_code_in_parallel_signs_in_once(identity: IdentityHarness) -> None:
    totp = await person_with_mfa(identity, "race.totp")
    async with identity.client() as browser:
        fields = await code_form(identity, browser, "race.totp")
        for _ in range(ROUNDS):
            await unlock(identity, "race.totp")
            statuses = await race(browser, fields, await fresh_code(identity, "race.totp", totp))
            assert sorted(statuses) == [302] + [401] * (PARALLEL - 1), statuses


async def test_one_recovery_code_in_parallel_signs_in_once(identity: IdentityHarness) -> None:
    await person_with_mfa(identity, "race.recovery")
    async with identity.session() as session:
        user = await session.scalar(select(User).where(User.username == "race.recovery"))
        assert user is not None
        codes = await mfa.new_recovery_codes(session, user)
        await session.commit()
    async with identity.client() as browser:
        fields = await code_form(identity, browser, "race.recovery")
        for code in codes[:ROUNDS]:
            await unlock(identity, "race.recovery")
            statuses = await race(browser, fields, code)
            assert sorted(statuses) == [302] + [401] * (PARALLEL - 1), statuses
