"""Server-side portal sessions: the browser holds only an opaque random id.

Everything else (Authlib's state and PKCE verifier during sign-in, the tokens, the
user's claims, the CSRF token) stays in the store. The store keys records by the
SHA-256 digest of the cookie value, so the ids themselves are never kept. Sessions
end after an absolute lifetime or when idle, on logout, and when identity sends a
back-channel logout for their SSO session (`sid`).

`MemorySessionStore` keeps sessions in this gateway process, at most
`max_sessions` of them (`GATEWAY_PORTAL_MAX_SESSIONS`; at the cap the least recently
used goes first): a restart signs everybody out, and replicas behind a load balancer
need the shared store (`gateway.portal.redis_sessions`). Every operation costs O(1),
whatever the number of sessions: the records are kept in two orders, by last use
(an `OrderedDict` moved to the end on each use) and by creation, so the sessions that
expired are always at the front of one of them; each operation drops at most
`SWEEP` expired ones from the fronts, and ending by `sid` or `sub` goes through an
index of the digests under each. `examined` counts the records an operation looked
at (tests check the bound with it, not with a clock).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

DEFAULT_MAX_SESSIONS = 100_000
SWEEP = 4  # expired records dropped at most per operation, from each order's front
INDEXED = ("sid", "sub")


def digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def new_id() -> str:
    return secrets.token_urlsafe(32)


@dataclass(slots=True)
class Record:
    data: dict[str, Any]
    created_at: float
    last_seen_at: float
    sid: str | None = None  # the values this record is indexed under
    sub: str | None = None


class SessionStoreUnavailable(Exception):
    """The shared session store cannot be reached: the portal answers 503 (a session
    cannot be made up in one process), the APIs are unaffected."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the portal's session store is unavailable; retry in {retry_after} s")
        self.retry_after = retry_after


class SessionStore(Protocol):
    async def load(self, session_id: str) -> dict[str, Any] | None: ...

    async def save(self, session_id: str, data: dict[str, Any]) -> None: ...

    async def delete(self, session_id: str) -> None: ...

    async def end_by_sid(self, sid: str) -> int: ...

    async def end_by_subject(self, subject: str) -> int: ...

    async def ping(self) -> None:
        """Return when the store answers; raise (OSError, RedisError) when it does not."""


class MemorySessionStore:
    """Sessions in this process's memory, with absolute and idle timeouts and a cap."""

    def __init__(
        self,
        ttl: float,
        idle_timeout: float,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl, self.idle_timeout, self.max_sessions = ttl, idle_timeout, max_sessions
        self.clock = clock
        self._records: OrderedDict[str, Record] = OrderedDict()  # least recently used first
        self._created: OrderedDict[str, float] = OrderedDict()  # oldest first
        self._index: dict[str, dict[str, set[str]]] = {kind: {} for kind in INDEXED}
        self.examined = 0  # records looked at, all operations together
        self.evicted = 0  # live sessions dropped at the cap

    def _alive(self, record: Record, now: float) -> bool:
        return now - record.created_at < self.ttl and now - record.last_seen_at < self.idle_timeout

    async def load(self, session_id: str) -> dict[str, Any] | None:
        key, now = digest(session_id), self.clock()
        record = self._records.get(key)
        self.examined += 1
        found = None
        if record is not None and self._alive(record, now):
            record.last_seen_at = now
            self._records.move_to_end(key)
            found = dict(record.data)
        elif record is not None:
            self._remove(key)
        self._sweep(now)
        return found

    async def save(self, session_id: str, data: dict[str, Any]) -> None:
        key, now = digest(session_id), self.clock()
        record = self._records.get(key)
        self.examined += 1
        if record is None:
            self._sweep(now)
            while len(self._records) >= self.max_sessions:
                self._evict()
            record = self._records[key] = Record(dict(data), now, now)
            self._created[key] = now
        else:
            record.data, record.last_seen_at = dict(data), now
            self._records.move_to_end(key)
        self._reindex(key, record)

    async def delete(self, session_id: str) -> None:
        self.examined += 1
        self._remove(digest(session_id))

    async def end_by_sid(self, sid: str) -> int:
        return self._end("sid", sid)

    async def end_by_subject(self, subject: str) -> int:
        return self._end("sub", subject)

    def _end(self, kind: str, value: str) -> int:
        keys = self._index[kind].pop(value, set())
        for key in keys:
            self.examined += 1
            self._remove(key)
        return len(keys)

    def _reindex(self, key: str, record: Record) -> None:
        """Keep the sid and sub indexes naming this record under its current values."""
        for kind in INDEXED:
            value = record.data.get(kind)
            value = value if isinstance(value, str) else None
            old = getattr(record, kind)
            if value == old:
                continue
            if old is not None:
                self._unindex(kind, old, key)
            if value is not None:
                self._index[kind].setdefault(value, set()).add(key)
            setattr(record, kind, value)

    def _unindex(self, kind: str, value: str, key: str) -> None:
        keys = self._index[kind].get(value)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._index[kind][value]

    def _remove(self, key: str) -> None:
        record = self._records.pop(key, None)
        if record is None:
            return
        del self._created[key]
        for kind in INDEXED:
            value = getattr(record, kind)
            if value is not None:
                self._unindex(kind, value, key)

    def _sweep(self, now: float) -> None:
        """Drop up to SWEEP expired records from the front of each order: the idle ones
        lead the order of use, the ones past their lifetime the order of creation."""
        for _ in range(SWEEP):
            if not self._records:
                return
            key, record = next(iter(self._records.items()))
            self.examined += 1
            if now - record.last_seen_at < self.idle_timeout:
                break
            self._remove(key)
        for _ in range(SWEEP):
            if not self._created:
                return
            key, created_at = next(iter(self._created.items()))
            self.examined += 1
            if now - created_at < self.ttl:
                break
            self._remove(key)

    def _evict(self) -> None:
        """At the cap: the least recently used session goes."""
        key, record = next(iter(self._records.items()))
        self.examined += 1
        if self._alive(record, self.clock()):
            self.evicted += 1
        self._remove(key)

    async def ping(self) -> None:
        """This process's memory always answers."""

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, key: object) -> bool:
        """Whether a record is kept under this digest."""
        return key in self._records
