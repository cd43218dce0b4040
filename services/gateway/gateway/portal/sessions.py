"""Server-side portal sessions: the browser holds only an opaque random id.

Everything else (Authlib's state and PKCE verifier during sign-in, the tokens, the
user's claims, the CSRF token) stays in the store. The store keys records by the
SHA-256 digest of the cookie value, so the ids themselves are never kept. Sessions
end after an absolute lifetime or when idle, on logout, and when identity sends a
back-channel logout for their SSO session (`sid`).

`MemorySessionStore` keeps sessions in this gateway process, at most
`max_sessions` of them (the least recently used goes first): a restart signs
everybody out, and replicas behind a load balancer would need a shared store
(the interface is small so a Redis or database store can replace it).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Protocol


def digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def new_id() -> str:
    return secrets.token_urlsafe(32)


@dataclass
class Record:
    data: dict[str, Any]
    created_at: float = field(default_factory=time.time)
    last_seen_at: float = field(default_factory=time.time)


class SessionStore(Protocol):
    async def load(self, session_id: str) -> dict[str, Any] | None: ...

    async def save(self, session_id: str, data: dict[str, Any]) -> None: ...

    async def delete(self, session_id: str) -> None: ...

    async def end_by_sid(self, sid: str) -> int: ...

    async def end_by_subject(self, subject: str) -> int: ...


class MemorySessionStore:
    """Sessions in this process's memory, with absolute and idle timeouts."""

    def __init__(self, ttl: float, idle_timeout: float, max_sessions: int = 100_000) -> None:
        self.ttl, self.idle_timeout, self.max_sessions = ttl, idle_timeout, max_sessions
        self._records: dict[str, Record] = {}

    def _alive(self, record: Record, now: float) -> bool:
        return now - record.created_at < self.ttl and now - record.last_seen_at < self.idle_timeout

    async def load(self, session_id: str) -> dict[str, Any] | None:
        key, now = digest(session_id), time.time()
        record = self._records.get(key)
        if record is None:
            return None
        if not self._alive(record, now):
            del self._records[key]
            return None
        record.last_seen_at = now
        return dict(record.data)

    async def save(self, session_id: str, data: dict[str, Any]) -> None:
        key = digest(session_id)
        record = self._records.get(key)
        if record is None:
            self._purge()
            self._records[key] = Record(dict(data))
        else:
            record.data, record.last_seen_at = dict(data), time.time()

    async def delete(self, session_id: str) -> None:
        self._records.pop(digest(session_id), None)

    async def end_by_sid(self, sid: str) -> int:
        return self._end(lambda data: data.get("sid") == sid)

    async def end_by_subject(self, subject: str) -> int:
        return self._end(lambda data: data.get("sub") == subject)

    def _end(self, matches: Any) -> int:
        ended = [key for key, record in self._records.items() if matches(record.data)]
        for key in ended:
            del self._records[key]
        return len(ended)

    def _purge(self) -> None:
        """Drop ended sessions; at the bound, the least recently used one goes too."""
        now = time.time()
        for key in [k for k, r in self._records.items() if not self._alive(r, now)]:
            del self._records[key]
        if len(self._records) >= self.max_sessions:
            oldest = min(self._records, key=lambda k: self._records[k].last_seen_at)
            del self._records[oldest]

    def __len__(self) -> int:
        return len(self._records)
