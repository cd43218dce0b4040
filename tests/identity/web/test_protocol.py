"""One protocol step's events: a step that changed nothing (a warm client_credentials
token) has them written by the group-commit writer, durable before the answer; every
step that changed something keeps them in its own transaction."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from joserfc.jwk import RSAKey
from sqlalchemy import func, select, text

from identity.models import AuditEvent
from policy.audit_batch import GroupCommitWriter
from tests.identity.flows import portal_tokens
from tests.identity.harness import IdentityHarness, running_identity
from tests.identity.oauth.test_rfc7523 import assertion, token_with

CURL = "acme-curl"


@pytest.fixture(scope="module")
async def identity(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[IdentityHarness]:
    async with running_identity(tmp_path_factory.mktemp("protocol")) as harness:
        yield harness


def writer_of(identity: IdentityHarness) -> GroupCommitWriter:
    writer: GroupCommitWriter = identity.app.state.audit_writer
    return writer


async def token(identity: IdentityHarness, http: httpx.AsyncClient, request_id: str) -> Any:
    return await http.post(
        "/token",
        data={"grant_type": "client_credentials"},
        auth=(CURL, identity.credentials.curl_secret),
        headers={"X-Request-ID": request_id},
    )


async def events_with(identity: IdentityHarness, request_id: str) -> list[AuditEvent]:
    async with identity.session() as session:
        query = select(AuditEvent).where(AuditEvent.request_id == request_id)
        return list(await session.scalars(query))


async def test_tokens_events_are_group_committed_and_durable_before_the_answer(
    identity: IdentityHarness,
) -> None:
    writer = writer_of(identity)
    async with identity.client() as http:
        assert (await token(identity, http, "warm-up")).status_code == 200  # client cached
        before = writer.describe()
        durable: list[int] = []

        async def issue(n: int) -> None:
            response = await token(identity, http, f"cc-{n}")
            assert response.status_code == 200, response.text
            durable.append(len(await events_with(identity, f"cc-{n}")))

        await asyncio.gather(*(issue(n) for n in range(30)))
    after = writer.describe()
    assert durable == [1] * 30, "each event committed before its token was answered"
    assert after["events"] - before["events"] == 30
    assert after["flushes"] - before["flushes"] < 30, (before, after)
    (event,) = await events_with(identity, "cc-7")
    assert (event.event, event.actor_id, event.details["grant_type"]) == (
        "token.issued",
        CURL,
        "client_credentials",
    )


async def test_steps_that_change_something_keep_their_events_in_their_transaction(
    identity: IdentityHarness,
) -> None:
    """A user's tokens (a code spent, a refresh token stored) and a private_key_jwt
    token (its assertion's jti kept) never go through the group commit."""
    writer = writer_of(identity)
    before = writer.describe()["events"]
    tokens = await portal_tokens(identity, "sam.biller")
    assert "refresh_token" in tokens
    key = RSAKey.import_key(identity.integrator_key())
    async with identity.client() as http:
        response = await token_with(http, assertion(key, "RS256"))
    assert response.status_code == 200, response.text
    assert writer.describe()["events"] == before
    async with identity.session() as session:
        issued = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.event == "token.issued", AuditEvent.target_id != CURL)
        )
    assert issued == 2


async def rename(identity: IdentityHarness, old: str, new: str) -> None:
    async with identity.session() as session:
        await session.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))
        await session.commit()


async def test_a_token_whose_event_cannot_be_written_is_not_issued(
    identity: IdentityHarness,
) -> None:
    async with identity.client() as http:
        assert (await token(identity, http, "before-outage")).status_code == 200
        away = f"audit_events_away_{uuid.uuid4().hex[:6]}"
        await rename(identity, "audit_events", away)  # the database refuses the insert
        try:
            refused = await token(identity, http, "during-outage")
        finally:
            await rename(identity, away, "audit_events")
        assert refused.status_code == 503
        assert refused.json()["error"] == "temporarily_unavailable"
        assert "access_token" not in refused.json()
        assert refused.headers["retry-after"] == "5"
        assert (await token(identity, http, "after-outage")).status_code == 200  # recovered
    assert await events_with(identity, "during-outage") == []
    assert len(await events_with(identity, "after-outage")) == 1
    assert writer_of(identity).describe()["failed_flushes"] == 1
