"""Signing keys: published before they sign, retired keys stay published, rotation
seen by another process without a restart, private keys encrypted at rest."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from identity.keys import (
    KeyNotPublishedLongEnough,
    KeyStore,
    algorithms,
    ensure_keys,
    published_keys,
    rotate_keys,
)
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
    assert {k["kid"] for k in jwks["keys"]} == {k["kid"] for r in rows for k in published_keys(r)}
    assert {r.kid for r in rows} <= {k["kid"] for k in jwks["keys"]}
    for key in jwks["keys"]:
        assert not {"d", "p", "q", "dp", "dq", "qi"} & key.keys()
        assert key["use"] == "sig"
    assert sorted(k["alg"] for k in jwks["keys"]) == ["ES256", "ES256", "RS256", "RS256"], (
        "per generation, the ID-token key (RS256) and the access-token key (ES256)"
    )


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
    assert len(after) == 3 * len(algorithms(settings)), "three generations, each fully published"
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


async def test_one_key_per_algorithm_in_a_generation(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    """ID tokens RS256, access tokens ES256: each generation holds both keys (distinct
    kids, both published), rotated together; one active key per algorithm."""
    both = settings.model_copy(update={"signing_alg": "RS256", "access_token_alg": "ES256"})
    store = KeyStore(sessions, both)
    async with sessions() as session:
        await ensure_keys(session, both)
        await session.commit()
    id_key, access_key = await store.signing_key(), await store.access_token_key()
    assert (id_key.alg, access_key.alg) == ("RS256", "ES256")
    assert access_key.key.key_type == "EC" and id_key.kid != access_key.kid
    before = {k["kid"]: k["alg"] for k in (await store.public_jwks())["keys"]}
    assert sorted(before.values()) == ["ES256", "ES256", "RS256", "RS256"]
    async with sessions() as session:
        await published_long_ago(session, both)
        await rotate_keys(session, both)
        await session.commit()
    other_process = KeyStore(sessions, both)
    rotated = await other_process.signing_key(), await other_process.access_token_key()
    assert {k.kid for k in rotated} <= before.keys(), "both new keys were published first"
    assert {k.kid for k in rotated}.isdisjoint({id_key.kid, access_key.kid})
    after = {k["kid"] for k in (await other_process.public_jwks())["keys"]}
    assert {id_key.kid, access_key.kid} <= after and len(after) == 6


async def test_a_next_generation_without_a_new_algorithm_is_replaced(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    """Adding ES256 access tokens to an RS256-only deployment: the next generation gets
    an ES256 key, published from now; the active one keeps signing access tokens
    (RS256) until the new generation may be promoted."""
    rsa_only = settings.model_copy(update={"signing_alg": "RS256", "access_token_alg": "RS256"})
    both = rsa_only.model_copy(update={"access_token_alg": "ES256"})
    async with sessions() as session:
        await ensure_keys(session, rsa_only)
        await published_long_ago(session, rsa_only)
        await session.commit()
        await ensure_keys(session, both)
        await session.commit()
        with pytest.raises(KeyNotPublishedLongEnough):
            await rotate_keys(session, both)
        await session.rollback()
    assert (await KeyStore(sessions, both).access_token_key()).alg == "RS256"
    async with sessions() as session:
        await published_long_ago(session, both)
        await rotate_keys(session, both)
        await session.commit()
    assert (await KeyStore(sessions, both).access_token_key()).alg == "ES256"
