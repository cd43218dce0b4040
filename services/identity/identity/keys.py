"""Signing keys: JWS keys with `kid` (RFC 7638 thumbprints) and rotation.

A key is `next` (published in the JWKS, never signing), then `active` (signing),
then `retired` (published until every token it signed has expired), then gone.
Rotation promotes `next`, so a key is always published before it signs anything.
Private keys are encrypted at rest with AES-256-GCM under a key derived (HKDF)
from the settings' key-encryption key; the kid is the associated data.

Each process caches the active key for `key_cache_seconds` and then reads the
table again, so a rotation by the operator command takes effect everywhere
without a restart.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import anyio
from joserfc.jwk import ECKey, KeySet, KeySetSerialization, RSAKey
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from identity import audit, locks
from identity.crypto import seal, unseal
from identity.models import SigningKey
from identity.settings import Settings

SigningJWK = RSAKey | ECKey
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


@dataclass(frozen=True)
class SigningMaterial:
    kid: str
    alg: str
    key: SigningJWK


def generate_key(alg: str) -> tuple[str, SigningJWK]:
    key: SigningJWK
    if alg == "RS256":
        key = RSAKey.generate_key(2048, private=True)
    elif alg == "ES256":
        key = ECKey.generate_key("P-256", private=True)
    else:
        raise ValueError(f"unsupported signing algorithm {alg!r}: use RS256 or ES256")
    kid = key.thumbprint()
    return kid, import_private({**key.as_dict(private=True), "kid": kid, "alg": alg, "use": "sig"})


def import_private(data: dict[str, Any]) -> SigningJWK:
    if data["kty"] == "RSA":
        return RSAKey.import_key(data)
    return ECKey.import_key(data)


def encrypt_private(settings: Settings, kid: str, key: SigningJWK) -> str:
    return seal(settings, "signing-keys", json.dumps(key.as_dict(private=True)).encode(), kid)


def decrypt_private(settings: Settings, kid: str, blob: str) -> SigningJWK:
    return import_private(json.loads(unseal(settings, "signing-keys", blob, kid)))


def key_set(data: dict[str, Any]) -> KeySet:
    """A JWKS document (public keys) as a joserfc KeySet."""
    return KeySet.import_key_set(cast("KeySetSerialization", data))


def public_jwk(key: SigningJWK, kid: str, alg: str) -> dict[str, Any]:
    data = {k: v for k, v in key.as_dict(private=False).items() if k not in PRIVATE_MEMBERS}
    data.update(kid=kid, alg=alg, use="sig")
    return data


async def _add_key(session: AsyncSession, settings: Settings, alg: str, status: str) -> SigningKey:
    kid, key = await anyio.to_thread.run_sync(generate_key, alg)
    now = datetime.now(UTC)
    row = SigningKey(
        kid=kid,
        alg=alg,
        status=status,
        public_jwk=public_jwk(key, kid, alg),
        private_jwk_encrypted=encrypt_private(settings, kid, key),
        activated_at=now if status == "active" else None,
    )
    session.add(row)
    await session.flush()
    return row


async def ensure_keys(session: AsyncSession, settings: Settings) -> None:
    """Create an active and a next key when there is no active key yet."""
    await locks.signing_keys(session)
    active = await session.scalar(select(SigningKey).where(SigningKey.status == "active"))
    if active is None:
        await _add_key(session, settings, settings.signing_alg, "active")
    pending = await session.scalar(select(SigningKey).where(SigningKey.status == "next"))
    if pending is None:
        await _add_key(session, settings, settings.signing_alg, "next")


class KeyNotPublishedLongEnough(ValueError):
    """The `next` key has been published for less than the publication lead time."""


async def rotate_keys(
    session: AsyncSession, settings: Settings, alg: str | None = None, *, force: bool = False
) -> SigningKey:
    """Promote `next`, retire the active key, prepare a new `next`; prune expired keys.

    The `next` key must have been published for `key_publication_lead_seconds`, so
    every verifier refreshing its JWKS more often knows it before it signs; `force`
    promotes it anyway (a compromised key). Concurrent rotations run one after the
    other (`locks.signing_keys`), each on the state the previous one committed;
    the database keeps one active and one next key."""
    await ensure_keys(session, settings)
    now = datetime.now(UTC)
    promoted = await session.scalar(select(SigningKey).where(SigningKey.status == "next"))
    assert promoted is not None
    published_for = (now - promoted.created_at).total_seconds()
    if not force and published_for < settings.key_publication_lead_seconds:
        wait = int(settings.key_publication_lead_seconds - published_for) + 1
        raise KeyNotPublishedLongEnough(
            f"the next key {promoted.kid} has been published for {int(published_for)} s; "
            f"services may not know it yet. Rotate in {wait} s, or use --force after a "
            "key compromise (services then fetch the new key when its first token arrives, "
            "at most once per 30 s each)."
        )
    publish_until = now + timedelta(seconds=settings.max_token_lifetime + 60)
    for row in await session.scalars(select(SigningKey).where(SigningKey.status == "active")):
        row.status, row.retired_at, row.publish_until = "retired", now, publish_until
    await session.flush()  # the old key leaves `active` before the next one enters it
    promoted.status, promoted.activated_at = "active", now
    await session.execute(
        delete(SigningKey).where(SigningKey.status == "retired", SigningKey.publish_until < now)
    )
    await _add_key(session, settings, alg or settings.signing_alg, "next")
    await audit.record(
        session,
        "signing_key.rotated",
        actor_type="operator",
        actor_id="cli",
        target_type="signing_key",
        target_id=promoted.kid,
        details={"alg": promoted.alg, "forced": force},
    )
    return promoted


class KeyStore:
    """The keys as this process sees them, re-read every `key_cache_seconds`."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self._sessionmaker = sessionmaker
        self._settings = settings
        self._loaded_at = float("-inf")
        self._signing: SigningMaterial | None = None
        self._jwks: dict[str, Any] = {"keys": []}
        self._lock = anyio.Lock()

    def invalidate(self) -> None:
        self._loaded_at = float("-inf")

    async def _refresh(self) -> None:
        if time.monotonic() - self._loaded_at < self._settings.key_cache_seconds:
            return
        async with self._lock:
            if time.monotonic() - self._loaded_at < self._settings.key_cache_seconds:
                return
            async with self._sessionmaker() as session:
                rows = list(await session.scalars(select(SigningKey)))
            now = datetime.now(UTC)
            published = [
                r
                for r in rows
                if r.status in ("next", "active") or (r.publish_until and r.publish_until > now)
            ]
            active = next((r for r in rows if r.status == "active"), None)
            if active is None:
                raise RuntimeError("no active signing key: run `identity rotate-keys`")
            key = await anyio.to_thread.run_sync(
                decrypt_private, self._settings, active.kid, active.private_jwk_encrypted
            )
            self._signing = SigningMaterial(active.kid, active.alg, key)
            self._jwks = {"keys": [r.public_jwk for r in published]}
            self._loaded_at = time.monotonic()

    async def signing_key(self) -> SigningMaterial:
        await self._refresh()
        assert self._signing is not None
        return self._signing

    async def public_jwks(self) -> dict[str, Any]:
        await self._refresh()
        return self._jwks
