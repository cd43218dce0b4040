"""Group commit for the audit events of requests that changed nothing.

A request that changes no state (a client_credentials token, a read of patient data,
a denial) still writes its audit event and may not answer before that event is
durable. Written in a transaction of its own per request, each event costs a
BEGIN, an INSERT and a COMMIT (a WAL flush). `GroupCommitWriter` writes such events
together: a caller queues its rows and awaits them; a flush takes everything queued
(whole callers, up to `max_batch` rows) and writes it in one multi-row INSERT and
one COMMIT on a connection of the writer's own; the callers resume only after that
COMMIT. Events queued while a flush is in flight go in the next one, which starts
as soon as a flush slot is free (at most `max_in_flight`: 2 on PostgreSQL, 1 on
SQLite, whose writers take turns anyway): no timer, so an idle writer adds no wait.

A flush that fails writes nothing (one transaction) and fails every caller of its
batch with `AuditWriteFailed` (the database's error as its cause); its connection
is given back to the pool and the next flush takes a fresh one.

Events that record a change never come here: they are written in the change's own
transaction, so a change whose event cannot be written does not happen. The rows
are ordinary unsealed events; the sealer (policy.sealing) chains them like any other.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from policy.dbpool import closed


class AuditWriteFailed(Exception):
    """The flush holding these events failed: none of its events were written.
    Services answer 503 (the request is not answered without its event)."""


@dataclass
class _Waiting:
    rows: list[dict[str, Any]]
    done: asyncio.Future[None]


def _retrieved(future: asyncio.Future[None]) -> None:
    """A waiter cancelled meanwhile leaves its outcome unread: mark it read."""
    if not future.cancelled():
        future.exception()


class GroupCommitWriter:
    """Writes rows of `table` for many callers at once; `write` returns when they are
    committed. Start and stop it with the app (`start`, `stop`)."""

    def __init__(
        self,
        engine: AsyncEngine,
        table: Table,
        *,
        max_batch: int = 256,
        max_in_flight: int | None = None,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.engine, self.table, self.max_batch = engine, table, max_batch
        server = engine.dialect.name == "postgresql"
        self.max_in_flight = max_in_flight or (2 if server else 1)
        # executemany with RETURNING: SQLAlchemy's "insertmanyvalues" sends the rows as
        # one INSERT ... VALUES (...), (...) statement (compiled once, cached).
        self._statement = insert(table).returning(table.c.id)
        self._queue: deque[_Waiting] = deque()
        self._flushing: set[asyncio.Task[None]] = set()
        self._claim_pending = False  # a flush started but has not taken its batch yet
        self._idle: list[AsyncConnection] = []
        self._running = False
        self.flushes = 0  # committed flushes
        self.events = 0  # rows they committed
        self.failed_flushes = 0

    def describe(self) -> dict[str, Any]:
        return {
            "flushes": self.flushes,
            "events": self.events,
            "failed_flushes": self.failed_flushes,
            "events_per_flush": round(self.events / self.flushes, 2) if self.flushes else 0,
            "in_flight": len(self._flushing),
            "waiting": sum(len(w.rows) for w in self._queue),
        }

    async def start(self) -> None:
        self._running = True

    async def stop(self) -> None:
        """Refuse new events, write those queued, close the writer's connections."""
        self._running = False
        while self._flushing or self._queue:
            if not self._flushing:
                self._kick()
            await asyncio.gather(*self._flushing, return_exceptions=True)
        idle, self._idle = self._idle, []
        for connection in idle:
            with contextlib.suppress(Exception):
                await connection.close()

    async def write(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Queue `rows` (one caller's events, written in the same flush) and return once
        they are committed; AuditWriteFailed if their flush failed."""
        if not rows:
            return
        if not self._running:
            raise RuntimeError("the audit writer is not running")
        waiting = _Waiting([dict(row) for row in rows], asyncio.get_running_loop().create_future())
        waiting.done.add_done_callback(_retrieved)
        self._queue.append(waiting)
        self._kick()
        # A caller cancelled meanwhile does not take its events out of a flush.
        await asyncio.shield(waiting.done)

    def _kick(self) -> None:
        if not self._queue or self._claim_pending or len(self._flushing) >= self.max_in_flight:
            return
        self._claim_pending = True
        task = asyncio.get_running_loop().create_task(self._flush())
        self._flushing.add(task)
        task.add_done_callback(self._flushed)

    def _flushed(self, task: asyncio.Task[None]) -> None:
        self._flushing.discard(task)
        self._kick()

    def _take(self) -> list[_Waiting]:
        """Whole callers, oldest first, up to max_batch rows (one caller with more
        rows than that is a batch of its own)."""
        batch: list[_Waiting] = []
        count = 0
        while self._queue:
            size = len(self._queue[0].rows)
            if batch and count + size > self.max_batch:
                break
            batch.append(self._queue.popleft())
            count += size
        return batch

    async def _flush(self) -> None:
        # Taken when the flush starts, not when it was asked for: every event queued
        # since goes with it.
        self._claim_pending = False
        batch = self._take()
        self._kick()  # more than a batch waiting: another slot may start now
        if not batch:
            return
        rows = [row for waiting in batch for row in waiting.rows]
        try:
            await self._insert(rows)
        except BaseException as error:  # cancelled too: no caller is left waiting
            self.failed_flushes += 1
            for waiting in batch:
                failure = AuditWriteFailed(
                    f"the audit events could not be written ({type(error).__name__})"
                )
                failure.__cause__ = error
                if not waiting.done.done():
                    waiting.done.set_exception(failure)
            if not isinstance(error, Exception):
                raise
            return
        self.flushes += 1
        self.events += len(rows)
        for waiting in batch:
            if not waiting.done.done():
                waiting.done.set_result(None)

    async def _connection(self) -> AsyncConnection:
        """An idle connection of the writer's, unless the server closed it meanwhile."""
        while self._idle:
            connection = self._idle.pop()
            if not closed(connection):
                return connection
            with contextlib.suppress(Exception):
                await connection.invalidate()
        return await self.engine.connect()

    async def _insert(self, rows: list[dict[str, Any]]) -> None:
        """One transaction: the multi-row INSERT, then COMMIT."""
        connection = await self._connection()
        try:
            async with connection.begin():
                await connection.execute(self._statement, rows)
        except BaseException:
            # Back to the pool (discarded there if the error invalidated it).
            with contextlib.suppress(Exception):
                await connection.close()
            raise
        self._idle.append(connection)
