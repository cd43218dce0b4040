"""Idempotency keys of the admin API (`identity.idempotency_records`): hold a key for
the transaction, find the answer kept under it, keep a new one. The caller owns the
transaction; nothing here commits, so an answer is kept with the change it answers.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from identity import crypto, locks
from identity.idempotency_records import IdempotencyRecord
from identity.settings import Settings
from identity.store.base import now

PURPOSE = "idempotency-answer"


@dataclass(frozen=True)
class KeyScope:
    """One caller's key in one organization ("" on paths that name none)."""

    caller_id: str
    organization_id: str
    key: str

    def lock_id(self) -> int:
        """A signed 64-bit number for the key's advisory lock."""
        name = f"idempotency\n{self.caller_id}\n{self.organization_id}\n{self.key}"
        return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)

    def associated(self) -> str:
        """What binds a sealed answer to its key (another row's answer cannot be swapped in)."""
        return json.dumps([self.caller_id, self.organization_id, self.key])


@dataclass(frozen=True)
class Answer:
    request_hash: str
    status_code: int
    body: Any


class IdempotencyStore:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session, self.settings = session, settings

    async def hold(self, scope: KeyScope) -> bool:
        """Hold the key until the transaction ends; False if another request holds it.
        Take it before `find`: what the previous holder kept is then visible."""
        return await locks.try_key(self.session, scope.lock_id())

    async def find(self, scope: KeyScope) -> Answer | None:
        """The answer kept under the key; an expired one the janitor has not deleted yet
        is deleted now (in this transaction), as if it were gone."""
        row = await self.session.scalar(
            select(IdempotencyRecord).filter_by(
                caller_id=scope.caller_id, organization_id=scope.organization_id, key=scope.key
            )
        )
        if row is None:
            return None
        if row.expires_at <= now():
            await self.session.execute(
                delete(IdempotencyRecord).where(IdempotencyRecord.id == row.id)
            )
            return None
        body = crypto.unseal(self.settings, PURPOSE, row.response, scope.associated())
        return Answer(row.request_hash, row.status_code, json.loads(body))

    def keep(self, scope: KeyScope, answer: Answer) -> None:
        """Add the answer to the transaction (written with its change at commit)."""
        sealed = crypto.seal(
            self.settings, PURPOSE, json.dumps(answer.body).encode(), scope.associated()
        )
        stamp = now()
        self.session.add(
            IdempotencyRecord(
                caller_id=scope.caller_id,
                organization_id=scope.organization_id,
                key=scope.key,
                request_hash=answer.request_hash,
                status_code=answer.status_code,
                response=sealed,
                created_at=stamp,
                expires_at=stamp + timedelta(seconds=self.settings.idempotency_key_ttl),
            )
        )
