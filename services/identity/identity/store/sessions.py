"""Browser SSO sessions: found by cookie, kept alive, ended (with back-channel logout)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from identity import backchannel_logout
from identity.models import SsoSession
from identity.security import token_digest
from identity.store.base import StoreBase, now


class SessionStore(StoreBase):
    async def active_session(self, cookie: str | None, idle_timeout: int) -> SsoSession | None:
        """The browser's SSO session, unless it ended, expired or sat idle too long."""
        if not cookie:
            return None
        row = await self.session.scalar(
            select(SsoSession).where(SsoSession.cookie_digest == token_digest(cookie))
        )
        if row is None or row.ended_at is not None:
            return None
        stamp = now()
        if row.expires_at <= stamp or row.last_seen_at + timedelta(seconds=idle_timeout) <= stamp:
            await backchannel_logout.end_session(self.session, row, "timeout")
            return None
        row.last_seen_at = stamp
        return row

    async def end_sso_session(self, session_id: str, reason: str = "logout") -> None:
        row = await self.session.get(SsoSession, session_id)
        if row is not None and row.ended_at is None:
            await backchannel_logout.end_session(self.session, row, reason)
