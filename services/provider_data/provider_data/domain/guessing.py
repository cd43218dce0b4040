"""Date-of-birth guessing defence: failed member matches counted per member and per client.

An eligibility answer with member details needs the member ID and the date of birth
(and the name, when given) to match. Every inquiry that fails to match (member not
found, wrong date of birth, wrong name) counts against its client; one about a member
on file also counts against that member, whoever asks. A claim that gives a date of
birth is a guess too (its `date_of_birth_mismatch` edit answers it): there only wrong
dates of birth count, and a locked member's claims are rejected with
`too_many_failed_matches`. After
`failed_match_limit_per_member` (or `_per_client`) failures within
`failed_match_window` seconds, the member (or client) is refused with 429 and
`Retry-After` until the window that began with its first failure has passed -- a
correct match included, so a lucky guess after the limit learns nothing.

The counters are rows of the plan's database (`failed_match_counters`), so every
replica counts in the same place. An inquiry that did not match locks its rows
(client first, then members in ID order: one order, no deadlock; the access trail
takes no lock) from the check until its transaction commits, so parallel guesses cannot
all slip under the limit. One that matched only reads them (`wait_read`): failures
are the only writers and count one after another, so a reading is a point in their
order and the answer it allows is one the locked order would have allowed. If the
database cannot be reached there is nothing to answer either: the request fails with
503 and discloses nothing.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from provider_data.platform.models import FailedMatchCounter, Member
from provider_data.platform.problems import Problem
from provider_data.platform.settings import Settings

log = logging.getLogger(__name__)

Scope = Literal["client", "member"]
REFUSED_REASON = "too_many_failed_matches"
KEY_LENGTH = 100


@dataclass
class _Window:
    started_at: datetime
    failures: int


class OnFile(Protocol):
    """A member on file, as far as the counters care: its ID."""

    @property
    def member_id(self) -> str: ...


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were written in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def client_key(client_id: str) -> str:
    if len(client_id) <= KEY_LENGTH:
        return client_id
    return "sha256:" + hashlib.sha256(client_id.encode()).hexdigest()


@dataclass
class Guard:
    """One request's view of its counters; every row it read stays locked until commit."""

    session: AsyncSession
    settings: Settings
    client_id: str
    event: str = "eligibility.guess_refused"  # the log event of a refusal
    _rows: dict[tuple[Scope, str], _Window] = field(default_factory=dict)

    def _limit(self, scope: Scope) -> int:
        if scope == "member":
            return self.settings.failed_match_limit_per_member
        return self.settings.failed_match_limit_per_client

    @property
    def _window(self) -> timedelta:
        return timedelta(seconds=self.settings.failed_match_window)

    async def _lock(self, scope: Scope, key: str) -> _Window:
        """The row for (scope, key), created if missing, locked for this transaction."""
        if (scope, key) not in self._rows:
            dialect = self.session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            statement = insert(FailedMatchCounter).values(
                scope=scope, key=key, window_started_at=datetime.now(UTC), failures=0
            )
            upsert = statement.on_conflict_do_update(
                index_elements=["scope", "key"], set_={"scope": statement.excluded.scope}
            ).returning(FailedMatchCounter.window_started_at, FailedMatchCounter.failures)
            started_at, failures = (await self.session.execute(upsert)).one()
            self._rows[(scope, key)] = _Window(_aware(started_at), int(failures))
        return self._rows[(scope, key)]

    async def lock_members(self, member_ids: list[str]) -> None:
        """Lock the rows of the members on file among these IDs, in ID order (batches)."""
        known = await self.session.scalars(
            select(Member.member_id).where(Member.member_id.in_(set(member_ids)))
        )
        await self.lock_client()
        for member_id in sorted(set(known)):
            await self._lock("member", member_id)

    async def lock_client(self) -> None:
        await self._lock("client", client_key(self.client_id))

    def _keys(self, member: OnFile | None) -> list[tuple[Scope, str]]:
        keys: list[tuple[Scope, str]] = [("client", client_key(self.client_id))]
        if member is not None:
            keys.append(("member", member.member_id))
        return keys

    async def wait(self, member: OnFile | None) -> int | None:
        """Seconds until this client (and this member) may be asked about again, or None;
        the rows stay locked until commit (an inquiry that will count a failure)."""
        windows = [(scope, await self._lock(scope, key)) for scope, key in self._keys(member)]
        return self._wait(windows)

    def wait_read(
        self,
        member: OnFile | None,
        *,
        member_window: tuple[datetime, int] | None,
        client_window: tuple[datetime, int] | None,
    ) -> int | None:
        """`wait` from counters read without a lock (a matched inquiry counts nothing).

        Only failures write the counters, and they do it under the row lock, so a
        reading is some point in their order: an answer given from it is one the
        locked order would have given. Rows this request locked itself win."""
        read = {"member": member_window, "client": client_window}
        windows = []
        for scope, key in self._keys(member):
            seen = self._rows.get((scope, key))
            if seen is None and (found := read[scope]) is not None:
                seen = _Window(_aware(found[0]), int(found[1]))
            if seen is not None:
                windows.append((scope, seen))
        return self._wait(windows)

    def _wait(self, windows: list[tuple[Scope, _Window]]) -> int | None:
        now, waits = datetime.now(UTC), []
        for scope, window in windows:
            ends = window.started_at + self._window
            if now < ends and window.failures >= self._limit(scope):
                waits.append((max(1, math.ceil((ends - now).total_seconds())), scope))
        if not waits:
            return None
        wait, scope = max(waits)
        log.warning(
            self.event, extra={"event": self.event, "scope": scope, "client": self.client_id}
        )
        return wait

    async def failed(self, member: OnFile | None) -> None:
        """Count one failed match against the client and, if on file, the member."""
        now = datetime.now(UTC)
        for scope, key in self._keys(member):
            window = await self._lock(scope, key)
            if now >= window.started_at + self._window or window.failures == 0:
                window.started_at, window.failures = now, 0
            window.failures += 1
            await self.session.execute(
                update(FailedMatchCounter)
                .where(FailedMatchCounter.scope == scope, FailedMatchCounter.key == key)
                .values(window_started_at=window.started_at, failures=window.failures)
                .execution_options(synchronize_session=False)
            )


def refusal(wait: int, plan_name: str) -> Problem:
    minutes = max(1, math.ceil(wait / 60))
    failure = Problem(
        429,
        "Too many inquiries that did not match",
        "Too many recent inquiries about this member, or from this application, did not "
        "match a member's ID, date of birth and name. To protect members' data, such "
        f"inquiries are refused for about {minutes} minute(s), even with the right details. "
        f"Check the ID card and the date of birth with the patient, retry after {wait} s, "
        f"or call {plan_name} if you need an answer sooner.",
        REFUSED_REASON.replace("_", "-"),
        reason=REFUSED_REASON,
        retry_after=wait,
    )
    failure.headers["Retry-After"] = str(wait)
    return failure
