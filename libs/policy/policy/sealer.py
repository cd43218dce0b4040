"""The sealer: a background task of every service process that chains committed audit
events (policy.sealing) and signs checkpoints of the chain's head (policy.checkpoints).

Every process runs one; one seals. On PostgreSQL the leader holds a session-level
advisory lock (`pg_try_advisory_lock`) on a connection of its own and seals on that
same connection, so a leader that loses its connection has lost the lock with it
and its open batch is rolled back by the server; the others try the lock every
interval and one takes over. On SQLite (one machine, one writer at a time) every
sealer tries and the head's conditional update lets one batch win.

The sealer seals a batch every `interval` seconds, at once again while batches come
back full; every `checkpoint_interval` seconds, if the head moved, it signs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from policy import metrics
from policy.checkpoints import Checkpoint, Vault, latest_seq
from policy.dbpool import unpooled
from policy.sealing import Head, LostRace, Trail, seal_batch

log = logging.getLogger("policy.sealer")


class Sealer:
    def __init__(
        self,
        engine: AsyncEngine,
        trail: Trail,
        *,
        interval: float = 0.2,
        batch: int = 1000,
        vault: Vault | None = None,
        checkpoint_interval: float = 60.0,
    ) -> None:
        self.engine, self.trail, self.vault = engine, trail, vault
        self.interval, self.batch, self.checkpoint_interval = interval, batch, checkpoint_interval
        self.leader = False
        self.sealed = 0  # events this process sealed
        self.last_checkpoint: Checkpoint | None = None
        self._checkpointed_seq = 0
        self._checkpointed_at = time.monotonic()
        self._stopping = asyncio.Event()
        if vault is not None and not vault.create_key:
            vault.private_key()  # a configured key must be there now, not at the first checkpoint

    def describe(self) -> dict[str, Any]:
        last = self.last_checkpoint
        return {
            "leader": self.leader,
            "sealed_here": self.sealed,
            "last_checkpoint": {"seq": last.seq, "signed_at": last.signed_at} if last else None,
        }

    async def run(self) -> None:
        """Seal until `stop`; a lost connection (or any failure) is retried after a pause,
        leadership given up meanwhile. Logged by type only: messages may carry data."""
        while not self._stopping.is_set():
            try:
                await self._serve()
            except Exception as error:
                log.warning(
                    "audit.sealer_error",
                    extra={"service": self.trail.service, "error": type(error).__name__},
                )
                await self._sleep(max(self.interval, 1.0))
            finally:
                self.leader = False

    def stop(self) -> None:
        self._stopping.set()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _serve(self) -> None:
        if self.engine.dialect.name != "postgresql":
            async with self.engine.connect() as connection:
                await self._lead(connection)
            return
        # Its own connection, never returned to a pool: closing it releases the lock.
        own = unpooled(self.engine)  # with the engine's timeouts: a dead server is noticed
        try:
            async with own.connect() as connection:
                while not await self._elected(connection):
                    await self._sleep(self.interval)
                    if self._stopping.is_set():
                        return
                await self._lead(connection)
        finally:
            await own.dispose()

    async def _elected(self, connection: AsyncConnection) -> bool:
        key = self.trail.lock_key
        won = await connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": key})
        await connection.commit()
        return bool(won)

    async def _lead(self, connection: AsyncConnection) -> None:
        self.leader = True
        if self.vault is not None:
            self._checkpointed_seq = latest_seq(self.vault.directory, self.trail.service)
        log.info("audit.sealer_leading", extra={"service": self.trail.service})
        full = False
        while not self._stopping.is_set():
            if not full:  # a full batch means more are waiting: seal on at once
                await self._sleep(self.interval)
                if self._stopping.is_set():
                    return
            head = await self._seal(connection)
            if head is not None:
                await self._checkpoint(head)
            full = head is not None and head.count >= self.batch

    async def _seal(self, connection: AsyncConnection) -> Head | None:
        try:
            async with connection.begin():
                head = await seal_batch(connection, self.trail, self.batch)
        except LostRace:
            return None
        self.sealed += head.count
        metrics.sealed(self.trail.service, head.oldest)
        return head

    async def _checkpoint(self, head: Head) -> None:
        if self.vault is None or head.seq <= self._checkpointed_seq:
            return
        if time.monotonic() - self._checkpointed_at < self.checkpoint_interval:
            return
        self._checkpointed_at = time.monotonic()
        try:
            self.last_checkpoint = await asyncio.to_thread(
                self.vault.sign_and_write, head.seq, head.hash
            )
        except (OSError, ValueError) as error:  # sealing goes on; the next interval retries
            log.error(
                "audit.checkpoint_failed",
                extra={"service": self.trail.service, "error": type(error).__name__},
            )
            return
        self._checkpointed_seq = head.seq


async def stop(sealer: Sealer, task: asyncio.Task[None], grace: float = 5.0) -> None:
    """Stop a running sealer: its batch in progress finishes, its connection closes."""
    sealer.stop()
    try:
        await asyncio.wait_for(asyncio.shield(task), grace)
    except TimeoutError:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
