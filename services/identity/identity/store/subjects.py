"""The signed-in user with the organizations a token speaks for, read fresh: the
standing (`identity.store.standing`, one query) kept for the rest of the request."""

from __future__ import annotations

from collections.abc import Iterable

from identity.store.base import StoreBase
from identity.store.snapshots import Subject
from identity.store.standing import Standing, read_standing, subject_of


class SubjectStore(StoreBase):
    async def standing(self, user_id: str) -> Standing | None:
        """The user with their memberships (`identity.store.standing`, one query), read
        once per request: a login consults it for the second-factor rule and the subject."""
        if user_id not in self._standings:
            self._standings[user_id] = await read_standing(self.session, user_id)
        return self._standings[user_id]

    async def load_subject(
        self,
        user_id: str,
        organization_id: str | None,
        *,
        auth_time: int,
        acr: str,
        amr: Iterable[str],
        sid: str | None,
        grant_id: str | None = None,
    ) -> Subject | None:
        """The user with fresh organization context, or None if they may not sign in
        (`identity.store.standing.subject_of`)."""
        standing = await self.standing(user_id)
        if standing is None:
            return None
        return subject_of(
            standing,
            organization_id,
            self.settings.token_tin_array_limit,
            auth_time=auth_time,
            acr=acr,
            amr=amr,
            sid=sid,
            grant_id=grant_id,
        )
