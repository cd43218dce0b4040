"""Signing keys: JWS keys with `kid` (RFC 7638 thumbprints) and rotation.

A key is `next` (published in the JWKS, never signing), then `active` (signing),
then `retired` (published until every token it signed has expired), then gone.
Rotation promotes `next`, so a key is always published before it signs anything.
Private keys are encrypted at rest with AES-256-GCM under a key derived (HKDF)
from the settings' key-encryption key; the kid is the associated data.

A row of `signing_keys` is one key *generation*: one key per algorithm in use
(`Settings.signing_alg` for ID and logout tokens, RS256 by default, and
`Settings.access_token_alg` for access tokens, ES256 by default), each with its
own kid, rotated together. So the database's "one active, one next" indexes
(migration 0009) mean one active key per algorithm, and every key of a generation
is published as long as the generation is. A one-algorithm generation is stored
as it always was (the row's JWK); a generation of several keeps `{"keys": [...]}`
in `public_jwk` and in the sealed private part, the row's kid and alg being its
first key's (the ID-token key). A generation made before an algorithm was added
signs that algorithm's tokens with its first key until the next rotation: the
new key is published for the whole lead time first, like any other.

Each process caches the active keys for `key_cache_seconds` and then reads the
table again (decrypting only a generation it has not seen), so a rotation by the
operator command takes effect everywhere within that bound, without a restart.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
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
# What a client's registered key may sign its assertions with (RFC 7523, private_key_jwt).
ASSERTION_ALGORITHMS = ["RS256", "RS384", "ES256", "ES384"]


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


def decrypt_generation(settings: Settings, row_kid: str, blob: str) -> dict[str, SigningMaterial]:
    """The private keys of one generation, by algorithm."""
    data = json.loads(unseal(settings, "signing-keys", blob, row_kid))
    materials: dict[str, SigningMaterial] = {}
    for jwk in data.get("keys", [data]):
        alg = str(jwk["alg"])
        materials.setdefault(alg, SigningMaterial(str(jwk["kid"]), alg, import_private(jwk)))
    return materials


def key_set(data: dict[str, Any]) -> KeySet:
    """A JWKS document (public keys) as a joserfc KeySet."""
    return KeySet.import_key_set(cast("KeySetSerialization", data))


def public_jwk(key: SigningJWK, kid: str, alg: str) -> dict[str, Any]:
    data = {k: v for k, v in key.as_dict(private=False).items() if k not in PRIVATE_MEMBERS}
    data.update(kid=kid, alg=alg, use="sig")
    return data


def algorithms(settings: Settings, id_token_alg: str | None = None) -> tuple[str, ...]:
    """The algorithms a generation holds keys for: ID tokens' first, then access tokens'."""
    return tuple(dict.fromkeys([id_token_alg or settings.signing_alg, settings.access_token_alg]))


def generation_algorithms(row: SigningKey) -> tuple[str, ...]:
    return tuple(str(jwk["alg"]) for jwk in published_keys(row))


def published_keys(row: SigningKey) -> list[dict[str, Any]]:
    """The public JWKs of one generation (a one-key row keeps the bare JWK)."""
    keys: list[dict[str, Any]] = row.public_jwk.get("keys", [row.public_jwk])
    return keys


def _generate(algs: tuple[str, ...]) -> list[tuple[str, SigningJWK]]:
    return [generate_key(alg) for alg in algs]


async def _add_key(
    session: AsyncSession, settings: Settings, algs: tuple[str, ...], status: str
) -> SigningKey:
    keys = await anyio.to_thread.run_sync(_generate, algs)
    kid, first = keys[0]
    publics = [public_jwk(key, key_id, alg) for (key_id, key), alg in zip(keys, algs, strict=True)]
    public: dict[str, Any]
    private: dict[str, Any]
    if len(keys) == 1:
        public, private = publics[0], dict(first.as_dict(private=True))
    else:
        public = {"keys": publics}
        private = {"keys": [key.as_dict(private=True) for _, key in keys]}
    now = datetime.now(UTC)
    row = SigningKey(
        kid=kid,
        alg=algs[0],
        status=status,
        public_jwk=public,
        private_jwk_encrypted=seal(settings, "signing-keys", json.dumps(private).encode(), kid),
        activated_at=now if status == "active" else None,
    )
    session.add(row)
    await session.flush()
    return row


async def ensure_keys(session: AsyncSession, settings: Settings) -> None:
    """Create an active and a next generation when there is none yet; a next generation
    without a key for access tokens' algorithm (it never signed) is replaced, published
    from now. (ID tokens use a generation's first key when it has none of theirs:
    `rotate-keys --alg` chooses it.)"""
    await locks.signing_keys(session)
    algs = algorithms(settings)
    active = await session.scalar(select(SigningKey).where(SigningKey.status == "active"))
    if active is None:
        await _add_key(session, settings, algs, "active")
    pending = await session.scalar(select(SigningKey).where(SigningKey.status == "next"))
    if pending is not None and settings.access_token_alg not in generation_algorithms(pending):
        now = datetime.now(UTC)
        pending.status, pending.retired_at, pending.publish_until = "retired", now, now
        await session.flush()
        pending = None
    if pending is None:
        await _add_key(session, settings, algs, "next")


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
    await _add_key(session, settings, algorithms(settings, alg), "next")
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

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._settings = settings
        self._clock = clock
        self._loaded_at = float("-inf")
        self._active: tuple[str, dict[str, SigningMaterial]] | None = None
        self._jwks: dict[str, Any] = {"keys": []}
        self._lock = anyio.Lock()

    def invalidate(self) -> None:
        self._loaded_at = float("-inf")

    def _fresh(self) -> bool:
        return self._clock() - self._loaded_at < self._settings.key_cache_seconds

    async def _refresh(self) -> None:
        if self._fresh():
            return
        async with self._lock:
            if self._fresh():
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
            if self._active is None or self._active[0] != active.kid:
                materials = await anyio.to_thread.run_sync(
                    decrypt_generation, self._settings, active.kid, active.private_jwk_encrypted
                )
                self._active = (active.kid, materials)
            self._jwks = {"keys": [jwk for r in published for jwk in published_keys(r)]}
            self._loaded_at = self._clock()

    async def signing_key(self, alg: str | None = None) -> SigningMaterial:
        """The active key for `alg` (ID tokens' algorithm by default); a generation
        without one signs with its first key."""
        await self._refresh()
        assert self._active is not None
        _, materials = self._active
        wanted = alg or self._settings.signing_alg
        return materials.get(wanted) or next(iter(materials.values()))

    async def access_token_key(self) -> SigningMaterial:
        return await self.signing_key(self._settings.access_token_alg)

    async def public_jwks(self) -> dict[str, Any]:
        await self._refresh()
        return self._jwks
