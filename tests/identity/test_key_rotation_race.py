"""Key rotation under concurrency: one active key, one next key, whatever runs at once.

Parallel rotations (the operator command and the function behind it) run one
after the other; the database itself refuses a second active or next key, and
migration 0009 repairs a table an earlier race left with two.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio.to_thread
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from identity import cli
from identity.db import create_engine, migrate, session_factory
from identity.keys import KeyStore, ensure_keys, rotate_keys
from identity.models import AuditEvent, SigningKey
from identity.settings import Settings
from tests.support.databases import db_kind, fresh_database

PARALLEL = 8 if db_kind() == "postgresql" else 4
ROUNDS = 3


@pytest.fixture
def settings(identity_db_url: str) -> Settings:
    """ES256 keys: generating them is quick, so the races stay short. No publication
    lead time, so every racing rotation may promote (the lead has its own tests)."""
    return Settings(
        environment="test",
        database_url=identity_db_url,
        key_cache_seconds=0,
        signing_alg="ES256",
        key_publication_lead_seconds=0,
    )


async def statuses(sessions: async_sessionmaker[AsyncSession]) -> Counter[str]:
    async with sessions() as session:
        return Counter(r.status for r in await session.scalars(select(SigningKey)))


async def rotate_once(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> str:
    async with sessions() as session:
        promoted = await rotate_keys(session, settings)
        await session.commit()
        return promoted.kid


async def test_parallel_first_starts_make_one_active_and_one_next_key(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    async def start() -> None:
        async with sessions() as session:
            await ensure_keys(session, settings)
            await session.commit()

    await asyncio.gather(*(start() for _ in range(PARALLEL)))
    assert await statuses(sessions) == Counter({"active": 1, "next": 1})


async def test_parallel_rotations_leave_exactly_one_active_key(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    async with sessions() as session:
        await ensure_keys(session, settings)
        await session.commit()
    rotations = 0
    for _ in range(ROUNDS):
        promoted = await asyncio.gather(*(rotate_once(sessions, settings) for _ in range(PARALLEL)))
        rotations += PARALLEL
        assert len(set(promoted)) == PARALLEL, "each rotation promoted a different next key"
        counts = await statuses(sessions)
        assert counts == Counter({"active": 1, "next": 1, "retired": rotations})
    async with sessions() as session:
        active = await session.scalar(select(SigningKey).where(SigningKey.status == "active"))
        retired = list(
            await session.scalars(select(SigningKey).where(SigningKey.status == "retired"))
        )
        events = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.event == "signing_key.rotated")
        )
    assert active is not None and active.kid in promoted
    assert all(r.retired_at and r.publish_until for r in retired)
    assert events == rotations
    store = KeyStore(sessions, settings)
    assert (await store.signing_key()).kid == active.kid
    published = {k["kid"] for k in (await store.public_jwks())["keys"]}
    assert {r.kid for r in retired} <= published, "retired keys stay published"


async def test_parallel_rotate_keys_commands_rotate_once(
    identity_db_url: str,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`identity rotate-keys` run many times at once: one promotes the next key (published
    for the whole lead time); the others find a next key published just now and say so."""
    monkeypatch.setenv("DATABASE_URL", identity_db_url)
    monkeypatch.setenv("IDENTITY_SIGNING_ALG", "ES256")
    lead = Settings().key_publication_lead_seconds
    async with sessions() as session:
        await ensure_keys(session, settings)
        await session.execute(
            update(SigningKey)
            .where(SigningKey.status == "next")
            .values(created_at=datetime.now(UTC) - timedelta(seconds=lead + 1))
        )
        await session.commit()
    for _ in range(2 if db_kind() == "postgresql" else 1):
        codes = await asyncio.gather(
            *(anyio.to_thread.run_sync(cli.main, ["rotate-keys"]) for _ in range(PARALLEL))
        )
        assert sorted(codes) == [0] + [2] * (PARALLEL - 1), capsys.readouterr().err
        assert await statuses(sessions) == Counter({"active": 1, "next": 1, "retired": 1})
        async with sessions() as session:  # the retired key's tokens have all expired
            await session.execute(
                update(SigningKey)
                .where(SigningKey.status == "retired")
                .values(publish_until=datetime.now(UTC) - timedelta(seconds=1))
            )
            await session.execute(
                update(SigningKey)
                .where(SigningKey.status == "next")
                .values(created_at=datetime.now(UTC) - timedelta(seconds=lead + 1))
            )
            await session.commit()
    forced = await asyncio.gather(
        *(anyio.to_thread.run_sync(cli.main, ["rotate-keys", "--force"]) for _ in range(PARALLEL))
    )
    assert forced == [0] * PARALLEL, capsys.readouterr().err
    counts = await statuses(sessions)
    assert counts["active"] == counts["next"] == 1 and counts["retired"] >= PARALLEL


async def test_the_database_refuses_a_second_active_key(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    async with sessions() as session:
        await ensure_keys(session, settings)
        await session.commit()
        first = await session.scalar(select(SigningKey).where(SigningKey.status == "active"))
        assert first is not None
        session.add(
            SigningKey(
                kid="second-active",
                alg=first.alg,
                status="active",
                public_jwk=first.public_jwk,
                private_jwk_encrypted=first.private_jwk_encrypted,
            )
        )
        with pytest.raises(IntegrityError):
            await session.commit()


async def test_migration_repairs_a_table_with_two_active_keys(tmp_path: Path) -> None:
    async with fresh_database("idkeys", tmp_path) as url:
        await anyio.to_thread.run_sync(migrate, url, "0008")
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:
                for kid, status, created in FORKED:
                    values = {"kid": kid, "status": status, "created_at": created}
                    await connection.execute(INSERT_KEY, {**KEY, **values})
            await anyio.to_thread.run_sync(migrate, url)
            async with session_factory(engine)() as session:
                rows = {r.kid: r for r in await session.scalars(select(SigningKey))}
        finally:
            await engine.dispose()
    assert {kid: r.status for kid, r in rows.items()} == {
        "old-active": "retired",
        "new-active": "active",
        "old-next": "retired",
        "new-next": "next",
    }
    assert rows["old-active"].publish_until is not None
    assert rows["old-active"].publish_until > datetime.now(UTC), "it may have signed tokens"


KEY = {"alg": "ES256", "public_jwk": "{}", "private_jwk_encrypted": "sealed"}
FORKED = [  # two rotations at once: each promoted a next key and made a new one
    ("old-active", "active", datetime(2026, 1, 1, tzinfo=UTC)),
    ("new-active", "active", datetime(2026, 1, 2, tzinfo=UTC)),
    ("old-next", "next", datetime(2026, 1, 3, tzinfo=UTC)),
    ("new-next", "next", datetime(2026, 1, 4, tzinfo=UTC)),
]
INSERT_KEY = text(
    "INSERT INTO signing_keys (kid, alg, status, public_jwk, private_jwk_encrypted,"
    " created_at, activated_at) VALUES (:kid, :alg, :status, :public_jwk,"
    " :private_jwk_encrypted, :created_at, :created_at)"
)
