"""Signing keys: published before they sign, retired keys stay published, rotation
seen by another process without a restart, private keys encrypted at rest."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from identity.keys import KeyNotPublishedLongEnough, KeyStore, ensure_keys, rotate_keys
from identity.models import AuditEvent, SigningKey
from identity.settings import Settings


async def test_ensure_keys_creates_an_active_and_a_next_key(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    async with sessions() as session:
        await ensure_keys(session, settings)
        await ensure_keys(session, settings)
        await session.commit()
        rows = list(await session.scalars(select(SigningKey)))
    assert sorted(r.status for r in rows) == ["active", "next"]
    jwks = await KeyStore(sessions, settings).public_jwks()
    assert {k["kid"] for k in jwks["keys"]} == {r.kid for r in rows}
    for key in jwks["keys"]:
        assert not {"d", "p", "q", "dp", "dq", "qi"} & key.keys()
        assert key["use"] == "sig" and key["alg"] == "RS256"


async def test_private_keys_are_encrypted_at_rest(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    async with sessions() as session:
        await ensure_keys(session, settings)
        await session.commit()
        row = await session.scalar(select(SigningKey).where(SigningKey.status == "active"))
    assert row is not None
    material = await KeyStore(sessions, settings).signing_key()
    assert material.kid == row.kid
    private_exponent = str(material.key.as_dict(private=True)["d"])
    assert private_exponent and private_exponent not in row.private_jwk_encrypted
    with pytest.raises(ValueError):
        json.loads(row.private_jwk_encrypted)


async def test_rotation_promotes_the_published_next_key(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    store = KeyStore(sessions, settings)
    async with sessions() as session:
        await ensure_keys(session, settings)
        await session.commit()
    first = await store.signing_key()
    before = {k["kid"] for k in (await store.public_jwks())["keys"]}
    async with sessions() as session:
        await published_long_ago(session, settings)
        promoted = await rotate_keys(session, settings)
        await session.commit()
        event = await session.scalar(
            select(AuditEvent).where(AuditEvent.event == "signing_key.rotated")
        )
    assert promoted.kid in before, "the new signing key was published before it signed"
    other_process = KeyStore(sessions, settings)
    assert (await other_process.signing_key()).kid == promoted.kid != first.kid
    after = {k["kid"] for k in (await other_process.public_jwks())["keys"]}
    assert first.kid in after, "the retired key stays published while its tokens live"
    assert len(after) == 3
    assert event is not None and event.target_id == promoted.kid


async def published_long_ago(session: AsyncSession, settings: Settings) -> None:
    """As if the next key had been published for the whole lead time."""
    lead = timedelta(seconds=settings.key_publication_lead_seconds + 1)
    await session.execute(
        update(SigningKey)
        .where(SigningKey.status == "next")
        .values(created_at=datetime.now(UTC) - lead)
    )


async def test_a_next_key_signs_only_after_the_publication_lead_time(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    assert settings.key_publication_lead_seconds > 0
    async with sessions() as session:
        await ensure_keys(session, settings)
        await session.commit()
        with pytest.raises(KeyNotPublishedLongEnough, match="--force"):
            await rotate_keys(session, settings)
        await session.rollback()
        forced = await rotate_keys(session, settings, force=True)
        await session.commit()
        event = await session.scalar(
            select(AuditEvent).where(AuditEvent.event == "signing_key.rotated")
        )
    assert forced.status == "active"
    assert event is not None and event.details["forced"] is True


async def test_retired_keys_disappear_after_their_tokens_expired(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    async with sessions() as session:
        await ensure_keys(session, settings)
        await rotate_keys(session, settings, force=True)
        await session.execute(
            update(SigningKey)
            .where(SigningKey.status == "retired")
            .values(publish_until=datetime.now(UTC) - timedelta(seconds=1))
        )
        await session.commit()
    store = KeyStore(sessions, settings)
    published = {k["kid"] for k in (await store.public_jwks())["keys"]}
    async with sessions() as session:
        retired = list(
            await session.scalars(select(SigningKey).where(SigningKey.status == "retired"))
        )
        assert retired and not {r.kid for r in retired} & published
        await rotate_keys(session, settings, force=True)
        await session.commit()
        statuses = sorted(r.status for r in await session.scalars(select(SigningKey)))
    assert statuses == ["active", "next", "retired"], (
        "expired retired keys are pruned at the next rotation"
    )


async def test_es256_keys(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    es = settings.model_copy(update={"signing_alg": "ES256"})
    async with sessions() as session:
        await ensure_keys(session, es)
        await session.commit()
    material = await KeyStore(sessions, es).signing_key()
    assert material.alg == "ES256" and material.key.key_type == "EC"
