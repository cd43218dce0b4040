"""Signed checkpoints catch what the chain alone cannot: someone with write access to
the database rewriting history and recomputing every hash, or cutting it short and
moving the head back. `audit verify` names the first bad event."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from pydantic import ValidationError
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from identity import audit, cli
from identity.db import create_engine
from identity.models import AuditChainHead, AuditEvent
from identity.settings import Settings
from policy.audit import GENESIS, chain_hash
from policy.checkpoints import CheckpointError, Vault
from policy.sealer import Sealer, stop


@pytest.fixture
def vault(tmp_path: Path) -> Vault:
    return Vault("identity", tmp_path / "key.pem", tmp_path / "checkpoints", create_key=True)


async def sealed_events(
    sessions: async_sessionmaker[AsyncSession], vault: Vault, *batches: int
) -> None:
    """Events in batches, each batch sealed and its head checkpointed."""
    n = 0
    for size in batches:
        async with sessions() as session:
            for _ in range(size):
                n += 1
                await audit.record(session, "test.noted", actor_type="operator", actor_id=f"{n}")
            await session.commit()
            head = await audit.seal(session)
        vault.sign_and_write(head.seq, head.hash)


async def rewrite_from(session: AsyncSession, seq: int, actor_id: str) -> None:
    """What an attacker with the database alone can do: alter an event and recompute
    every hash after it, and the head, so that the chain itself verifies."""
    prev = await session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == seq - 1))
    prev = prev or GENESIS
    rows = await session.scalars(
        select(AuditEvent).where(AuditEvent.seq >= seq).order_by(AuditEvent.seq)
    )
    for row in rows:
        if row.seq == seq:
            row.actor_id = actor_id
        assert row.seq is not None
        row.prev_hash, row.hash = prev, chain_hash(prev, audit.event_content(row, row.seq))
        prev = row.hash
    await session.execute(update(AuditChainHead).values(last_hash=prev))
    await session.commit()


async def test_a_rewrite_with_recomputed_hashes_is_caught_by_the_checkpoint(
    sessions: async_sessionmaker[AsyncSession], vault: Vault
) -> None:
    await sealed_events(sessions, vault, 2, 3)
    async with sessions() as session:
        assert (await audit.verify(session, vault)).checkpoints == 2
        await rewrite_from(session, 3, "someone-else")
        chain_only = await audit.verify(session)
        result = await audit.verify(session, vault)
    assert chain_only.ok, "the chain alone cannot tell"
    assert (result.ok, result.first_bad_seq, result.checkpoints) == (False, 3, 1)
    assert "events 3 to 5 were rewritten" in result.describe()


async def test_truncation_with_the_head_moved_back_is_caught(
    sessions: async_sessionmaker[AsyncSession], vault: Vault
) -> None:
    await sealed_events(sessions, vault, 3, 2)
    async with sessions() as session:
        third = await session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == 3))
        await session.execute(delete(AuditEvent).where(AuditEvent.seq > 3))
        await session.execute(update(AuditChainHead).values(seq=3, last_hash=third))
        await session.commit()
        assert (await audit.verify(session)).ok, "the chain alone cannot tell"
        result = await audit.verify(session, vault)
    assert (result.ok, result.first_bad_seq) == (False, 4)
    assert "events 4 to 5 are missing" in result.describe()


@pytest.mark.parametrize("tamper", ["alter", "delete", "reorder"])
async def test_tampering_is_named_with_checkpoints_too(
    sessions: async_sessionmaker[AsyncSession], vault: Vault, tamper: str
) -> None:
    await sealed_events(sessions, vault, 4)
    async with sessions() as session:
        if tamper == "alter":
            await session.execute(
                update(AuditEvent).where(AuditEvent.seq == 2).values(outcome="failure")
            )
        elif tamper == "delete":
            await session.execute(delete(AuditEvent).where(AuditEvent.seq == 2))
        else:
            await session.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(seq=-2))
            await session.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(seq=2))
            await session.execute(update(AuditEvent).where(AuditEvent.seq == -2).values(seq=3))
        await session.commit()
        result = await audit.verify(session, vault)
    assert (result.ok, result.first_bad_seq) == (False, 2)


async def test_a_forged_checkpoint_fails_verification(
    sessions: async_sessionmaker[AsyncSession], vault: Vault
) -> None:
    await sealed_events(sessions, vault, 2)
    (path,) = vault.directory.glob("identity-*.json")
    path.write_text(json.dumps({**json.loads(path.read_text()), "seq": 1}))
    async with sessions() as session:
        with pytest.raises(CheckpointError):
            await audit.verify(session, vault)


async def test_the_sealer_signs_checkpoints_that_verify(
    sessions: async_sessionmaker[AsyncSession], vault: Vault
) -> None:
    bind = sessions.kw["bind"]
    assert isinstance(bind, AsyncEngine)
    sealer = Sealer(bind, audit.TRAIL, interval=0.02, vault=vault, checkpoint_interval=0.05)
    task = asyncio.create_task(sealer.run())
    try:
        async with sessions() as session:
            await audit.record(session, "test.noted", actor_type="operator", actor_id="x")
            await session.commit()
        with anyio.fail_after(10):
            while True:
                if sealer.last_checkpoint is not None:
                    break
                await anyio.sleep(0.02)
    finally:
        await stop(sealer, task)
    async with sessions() as session:
        result = await audit.verify(session, vault)
    assert result.ok and result.checkpoints == 1
    assert sealer.describe()["last_checkpoint"]["seq"] == 1


async def test_the_cli_seals_signs_reports_and_verifies(
    sessions: async_sessionmaker[AsyncSession],
    identity_db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", identity_db_url)
    monkeypatch.setenv("IDENTITY_AUDIT_SIGNING_KEY_FILE", str(tmp_path / "cli-key.pem"))
    monkeypatch.setenv("IDENTITY_AUDIT_CHECKPOINT_DIR", str(tmp_path / "cli-checkpoints"))
    Vault("identity", tmp_path / "cli-key.pem", tmp_path, create_key=True).private_key()
    async with sessions() as session:
        for n in range(3):
            await audit.record(session, "test.noted", actor_type="operator", actor_id=f"{n}")
        await session.commit()

    async def run(*argv: str) -> int:
        code: int = await anyio.to_thread.run_sync(cli.main, list(argv))
        return code

    assert await run("audit", "status") == 0
    assert "0 events sealed, 3 waiting" in capsys.readouterr().out
    assert await run("audit", "seal") == 0
    assert "sealed 3 events" in capsys.readouterr().out
    assert (tmp_path / "cli-checkpoints" / "identity-000000000003.json").is_file()
    assert await run("audit", "verify") == 0
    assert "3 events verified, 1 signed checkpoints matched" in capsys.readouterr().out
    async with sessions() as session:
        await rewrite_from(session, 2, "someone-else")
    assert await run("audit", "verify") == 1
    assert "BROKEN at event 1: events 1 to 3 were rewritten" in capsys.readouterr().err


def test_production_refuses_to_run_without_an_audit_key(tmp_path: Path) -> None:
    secrets: dict[str, Any] = {
        "environment": "production",
        "secret_key": "k" * 40,
        "key_encryption_key": "e" * 40,
        "client_secret_pepper": "p" * 40,
    }
    with pytest.raises(ValidationError, match="IDENTITY_AUDIT_SIGNING_KEY_FILE"):
        Settings(**secrets)
    settings = Settings(
        audit_signing_key_file=str(tmp_path / "absent.pem"),
        audit_checkpoint_dir=str(tmp_path / "checkpoints"),
        **secrets,
    )
    with pytest.raises(FileNotFoundError, match="no audit signing key"):
        audit.sealer(create_engine("sqlite+aiosqlite://"), settings)
