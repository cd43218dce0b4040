"""The janitor: deleting what the protocol no longer needs, in bounded batches.

What goes, and when (`now`, and `kept` = now - `janitor_retention`):
- authorization codes once expired, unless their SSO session is still live (the
  back-channel logout of that session needs to know which clients got a code);
- refresh tokens once expired, and revoked ones revoked before `kept` (rotated ones
  stay until they expire, so a rotated token presented again is still recognised);
- SSO sessions that ended, or expired, before `kept`;
- used client-assertion ids once their assertion expired (RFC 7523 replay needs
  them only that long);
- deny-list entries once the last token they deny has expired;
- back-channel logout deliveries delivered, or given up on, before `kept` (pending
  ones stay, whatever their age: the sender still owes them);
- action tokens (password reset, e-mail confirmation links) once expired, or used
  before `kept` (a used link is refused whether its row is there or not);
- nominations (invitation links) that expired before `kept`, whatever became of them:
  until then an administrator still sees a lately expired invitation and can resend it;
- the admin API's idempotency keys once expired (`idempotency_key_ttl` after their
  request; `identity.admin.idempotency`).

Every replica runs it (a lifespan task every `janitor_interval` seconds; `identity
janitor` runs one round). Each batch is one `DELETE … WHERE key IN (SELECT key …
LIMIT batch FOR UPDATE SKIP LOCKED)` in its own short transaction, repeated until a
batch comes back short: concurrent janitors on PostgreSQL skip each other's rows
instead of waiting or deadlocking, and on SQLite the write lock takes them in turn.
Deleting a row twice is impossible, deleting nothing is harmless.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from identity.idempotency_records import IdempotencyRecord
from identity.models import (
    ActionToken,
    AuthorizationCode,
    BackchannelDelivery,
    DeniedToken,
    Nomination,
    RefreshToken,
    SsoSession,
    UsedClientAssertion,
)
from identity.settings import Settings

log = logging.getLogger(__name__)


def targets(settings: Settings, now: datetime) -> list[tuple[Any, ColumnElement[bool]]]:
    """(model, condition of the rows to delete), in the order they are swept."""
    kept = now - timedelta(seconds=settings.janitor_retention)
    live_session = exists().where(
        SsoSession.id == AuthorizationCode.sso_session_id, SsoSession.ended_at.is_(None)
    )
    return [
        (AuthorizationCode, and_(AuthorizationCode.expires_at < now, ~live_session)),
        (RefreshToken, or_(RefreshToken.expires_at < now, RefreshToken.revoked_at < kept)),
        (SsoSession, or_(SsoSession.ended_at < kept, SsoSession.expires_at < kept)),
        (UsedClientAssertion, UsedClientAssertion.expires_at < now),
        (DeniedToken, DeniedToken.expires_at < now),
        (
            BackchannelDelivery,
            or_(BackchannelDelivery.delivered_at < kept, BackchannelDelivery.failed_at < kept),
        ),
        (ActionToken, or_(ActionToken.expires_at < now, ActionToken.used_at < kept)),
        (Nomination, Nomination.expires_at < kept),
        (IdempotencyRecord, IdempotencyRecord.expires_at < now),
    ]


def _batch(model: Any, condition: ColumnElement[bool], size: int) -> Any:
    table = model.__table__
    keys = list(table.primary_key.columns)
    chosen = select(*keys).where(condition).limit(size).with_for_update(skip_locked=True, of=table)
    key = keys[0] if len(keys) == 1 else tuple_(*keys)
    return delete(table).where(key.in_(chosen))


class Janitor:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self.sessionmaker, self.settings = sessionmaker, settings

    async def run(self) -> None:
        """Sweep every `janitor_interval` seconds, for as long as the service runs."""
        while True:
            await asyncio.sleep(self.settings.janitor_interval)
            try:
                await self.sweep()
            except Exception:  # the loop must survive a bad round; the next one retries
                log.exception("janitor round failed")

    async def sweep(self, now: datetime | None = None) -> dict[str, int]:
        """One round: how many rows were deleted from each table."""
        stamp = now or datetime.now(UTC)
        deleted: dict[str, int] = {}
        for model, condition in targets(self.settings, stamp):
            deleted[model.__tablename__] = await self._sweep(model, condition)
        if any(deleted.values()):
            log.info("janitor deleted %s", deleted)
        return deleted

    async def _sweep(self, model: Any, condition: ColumnElement[bool]) -> int:
        size = self.settings.janitor_batch_size
        statement = _batch(model, condition, size)
        total = 0
        while True:
            async with self.sessionmaker() as session, session.begin():
                result = await session.execute(statement)
            count = int(getattr(result, "rowcount", 0) or 0)
            total += count
            if count < size:
                return total
