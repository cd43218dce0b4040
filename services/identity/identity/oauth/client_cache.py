"""Clients cached in process, with a bounded staleness every replica respects.

The token endpoint needs a client's registration (secret digest, grant types,
resources) and, for client_credentials, its organization and granted TINs. Both are
read together, once, and kept for `Settings.client_cache_seconds` (5 s by default).

Invalidation:
- Another replica's change (a rotated secret, a deleted client, a TIN taken from a
  client or no longer verified) is seen here at most `client_cache_seconds` later:
  an entry older than that is read again.
- A change committed through any session of this process (the ORM unit of work or
  an UPDATE/DELETE statement on clients, their TIN grants, Tax IDs or
  organizations) empties every cache of the process at commit.
An entry read while such a change was committing is stored under the generation it
was read in, so it cannot outlive the change.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Delete, Update, event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from identity.models import Client, Organization, TaxId, client_tax_ids
from identity.store import OAuthStore
from identity.store.snapshots import ClientInfo

WATCHED_TABLES = frozenset(str(model.__tablename__) for model in (Client, TaxId, Organization)) | {
    client_tax_ids.name
}
WATCHED_TYPES = (Client, TaxId, Organization)
_FLAG = "tinpass_clients_changed"
MAX_ENTRIES = 10_000
_generation = 0


def generation() -> int:
    return _generation


def invalidate_all() -> None:
    """Forget every cached client in this process."""
    global _generation
    _generation += 1


class ClientCache:
    """client_id -> ClientInfo (or None: no such client), per process."""

    def __init__(self, ttl: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.clock = ttl, clock
        self._entries: dict[str, tuple[ClientInfo | None, float, int]] = {}

    def cached(self, client_id: str) -> tuple[bool, ClientInfo | None]:
        """(found, client) without any I/O."""
        entry = self._entries.get(client_id)
        if entry is None:
            return False, None
        info, loaded_at, gen = entry
        if gen != _generation or self.clock() - loaded_at >= self.ttl:
            del self._entries[client_id]
            return False, None
        return True, info

    async def load(self, store: OAuthStore, client_id: str) -> ClientInfo | None:
        """Read the client (with its TINs) and keep it."""
        found, info = self.cached(client_id)
        if found:
            return info
        gen = _generation
        info = await store.get_client(client_id)
        if len(self._entries) >= MAX_ENTRIES:  # bounded: unknown ids are kept too
            self._entries.clear()
        self._entries[client_id] = (info, self.clock(), gen)
        return info


def _touches_clients(session: Session) -> bool:
    return any(
        isinstance(obj, WATCHED_TYPES)
        for objects in (session.new, session.dirty, session.deleted)
        for obj in objects
    )


@event.listens_for(Session, "before_flush")
def _note_flush(session: Session, flush_context: UOWTransaction, instances: Any) -> None:
    if _touches_clients(session):
        session.info[_FLAG] = True


@event.listens_for(Session, "do_orm_execute")
def _note_statement(state: ORMExecuteState) -> None:
    statement = state.statement
    if isinstance(statement, Update | Delete):
        table = getattr(statement.table, "name", None)
        if table in WATCHED_TABLES:
            state.session.info[_FLAG] = True


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_FLAG, False):
        invalidate_all()
