"""Used client-assertion ids (RFC 7523 §3): the primary key rejects a replay; expired
ids are the janitor's to delete, not each authentication's."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from joserfc.jwk import RSAKey
from sqlalchemy import select, update

from identity.models import UsedClientAssertion
from tests.identity.harness import IdentityHarness
from tests.identity.oauth.test_rfc7523 import CLIENT, assertion, token_with
from tests.support.databases import db_kind

PARALLEL = 8


async def stored(identity: IdentityHarness, jti: str) -> UsedClientAssertion | None:
    async with identity.session() as session:
        row: UsedClientAssertion | None = await session.get(UsedClientAssertion, (CLIENT, jti))
        return row


async def test_an_authentication_leaves_other_expired_ids_to_the_janitor(
    identity: IdentityHarness,
) -> None:
    key = RSAKey.import_key(identity.integrator_key())
    old = str(uuid.uuid4())
    async with identity.session() as session:
        expired = datetime.now(UTC) - timedelta(minutes=10)
        session.add(UsedClientAssertion(client_id=CLIENT, jti=old, expires_at=expired))
        await session.commit()
    async with identity.client() as client:
        response = await token_with(client, assertion(key, "RS256"))
    assert response.status_code == 200, response.text
    assert await stored(identity, old) is not None, "no table-wide DELETE per authentication"


async def test_an_id_whose_assertion_expired_may_be_used_again(identity: IdentityHarness) -> None:
    key = RSAKey.import_key(identity.integrator_key())
    jti = str(uuid.uuid4())
    async with identity.client() as client:
        first = await token_with(client, assertion(key, "RS256", jti=jti))
        async with identity.session() as session:
            await session.execute(
                update(UsedClientAssertion)
                .where(UsedClientAssertion.jti == jti)
                .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
            await session.commit()
        again = await token_with(client, assertion(key, "RS256", jti=jti))
        replay = await token_with(client, assertion(key, "RS256", jti=jti))
    assert (first.status_code, again.status_code, replay.status_code) == (200, 200, 400)
    row = await stored(identity, jti)
    assert row is not None and row.expires_at > datetime.now(UTC)


@pytest.mark.skipif(db_kind() != "postgresql", reason="a race of writers needs PostgreSQL")
async def test_one_assertion_sent_in_parallel_is_accepted_once(identity: IdentityHarness) -> None:
    key = RSAKey.import_key(identity.integrator_key())
    signed = assertion(key, "RS256")
    async with identity.client() as client:
        responses = await asyncio.gather(*(token_with(client, signed) for _ in range(PARALLEL)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [400] * (PARALLEL - 1), [r.text for r in responses]
    async with identity.session() as session:
        rows = list(await session.scalars(select(UsedClientAssertion.jti)))
    assert len(rows) == len(set(rows))
