"""OpenID Connect Back-Channel Logout 1.0: telling relying parties a session ended.

When an SSO session ends (logout, timeout, suspension, password reset, sign-out
everywhere) every client that received a code or tokens in it and registered a
`backchannel_logout_uri` gets a delivery queued in the same transaction. A sender
posts a signed logout token (§2.4: iss, aud, iat, exp, jti, sub, sid, events;
`typ: logout+jwt`) and retries failures with exponential backoff. Claiming a
delivery is a conditional UPDATE, so several replicas never send one twice at
once. The sender also ends sessions that timed out and notifies for them.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import httpx
from joserfc import jwt
from sqlalchemy import or_, select, union, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from identity.keys import KeyStore
from identity.models import AuthorizationCode, BackchannelDelivery, Client, RefreshToken, SsoSession
from identity.settings import Settings
from policy.names import Claim

EVENT = "http://schemas.openid.net/event/backchannel-logout"
MAX_ATTEMPTS = 6
LEASE = timedelta(seconds=30)
log = logging.getLogger(__name__)


def now() -> datetime:
    return datetime.now(UTC)


async def queue(session: AsyncSession, user_id: str, sids: Iterable[str]) -> int:
    """Queue a delivery for each (client with a back-channel URI, ended session) pair."""
    ended = list(sids)
    if not ended:
        return 0
    issued = union(
        select(AuthorizationCode.client_id, AuthorizationCode.sso_session_id).where(
            AuthorizationCode.sso_session_id.in_(ended)
        ),
        select(RefreshToken.client_id, RefreshToken.sso_session_id).where(
            RefreshToken.sso_session_id.in_(ended)
        ),
    ).subquery()
    pairs = await session.execute(
        select(issued.c.client_id, issued.c.sso_session_id)
        .join(Client, Client.client_id == issued.c.client_id)
        .where(Client.backchannel_logout_uri.is_not(None))
    )
    count = 0
    for client_id, sid in pairs:
        session.add(
            BackchannelDelivery(
                client_id=client_id, user_id=user_id, sid=sid, next_attempt_at=now()
            )
        )
        count += 1
    await session.flush()
    return count


async def end_session(session: AsyncSession, sso: SsoSession, reason: str) -> None:
    """End one SSO session, revoke its refresh tokens, notify its relying parties."""
    stamp = now()
    sso.ended_at, sso.end_reason = stamp, reason
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.sso_session_id == sso.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=stamp)
    )
    await queue(session, sso.user_id, [sso.id])


async def logout_token(
    keystore: KeyStore, settings: Settings, delivery: BackchannelDelivery
) -> str:
    signing = await keystore.signing_key()
    issued = int(now().timestamp())
    claims = {
        "iss": settings.issuer,
        "aud": delivery.client_id,
        "iat": issued,
        "exp": issued + 120,
        "jti": str(uuid.uuid4()),
        "sub": delivery.user_id,
        Claim.SID: delivery.sid,
        "events": {EVENT: {}},
    }
    header = {"alg": signing.alg, "kid": signing.kid, "typ": "logout+jwt"}
    return jwt.encode(header, claims, signing.key, algorithms=[signing.alg])


class Sender:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        keystore: KeyStore,
        settings: Settings,
        http: httpx.AsyncClient,
    ) -> None:
        self.sessionmaker, self.keystore, self.settings, self.http = (
            sessionmaker,
            keystore,
            settings,
            http,
        )

    async def run(self, interval: float = 1.0) -> None:
        while True:
            try:
                await self.sweep_timeouts()
                await self.deliver_due()
            except Exception:  # the loop must survive a bad round; the next one retries
                log.exception("back-channel logout round failed")
            await asyncio.sleep(interval)

    async def sweep_timeouts(self) -> int:
        """End sessions past their absolute or idle timeout, and queue their notices;
        forget rotated refresh tokens' responses once their grace window is over."""
        cutoff = now() - timedelta(seconds=self.settings.sso_idle_timeout)
        grace = now() - timedelta(seconds=self.settings.refresh_grace_seconds)
        async with self.sessionmaker() as session:
            await session.execute(
                update(RefreshToken)
                .where(
                    RefreshToken.rotated_at < grace, RefreshToken.successor_encrypted.is_not(None)
                )
                .values(successor_encrypted=None)
            )
            expired = list(
                await session.scalars(
                    select(SsoSession)
                    .where(SsoSession.ended_at.is_(None))
                    .where(or_(SsoSession.expires_at <= now(), SsoSession.last_seen_at <= cutoff))
                    .limit(100)
                )
            )
            for sso in expired:
                await end_session(session, sso, "timeout")
            await session.commit()
        return len(expired)

    async def deliver_due(self) -> int:
        async with self.sessionmaker() as session:
            due = list(
                await session.scalars(
                    select(BackchannelDelivery.id)
                    .where(
                        BackchannelDelivery.delivered_at.is_(None),
                        BackchannelDelivery.failed_at.is_(None),
                        BackchannelDelivery.next_attempt_at <= now(),
                    )
                    .limit(50)
                )
            )
        delivered = 0
        for delivery_id in due:
            delivered += await self._deliver(delivery_id)
        return delivered

    async def _deliver(self, delivery_id: int) -> int:
        async with self.sessionmaker() as session:
            claimed = await session.execute(
                update(BackchannelDelivery)
                .where(
                    BackchannelDelivery.id == delivery_id,
                    BackchannelDelivery.next_attempt_at <= now(),
                )
                .values(next_attempt_at=now() + LEASE)
            )
            await session.commit()
            if getattr(claimed, "rowcount", 0) != 1:
                return 0
            delivery = await session.get(BackchannelDelivery, delivery_id)
            client = await session.get(Client, delivery.client_id) if delivery else None
            if delivery is None or client is None or not client.backchannel_logout_uri:
                return 0
            error = await self._post(
                client.backchannel_logout_uri,
                await logout_token(self.keystore, self.settings, delivery),
            )
            self._record(delivery, error)
            await session.commit()
            return 1 if error is None else 0

    async def _post(self, uri: str, token: str) -> str | None:
        try:
            response = await self.http.post(uri, data={"logout_token": token}, timeout=5)
        except httpx.HTTPError as error:
            return type(error).__name__
        return None if response.status_code in (200, 204) else f"HTTP {response.status_code}"

    @staticmethod
    def _record(delivery: BackchannelDelivery, error: str | None) -> None:
        delivery.attempts += 1
        if error is None:
            delivery.delivered_at = now()
            return
        delivery.last_error = error
        if delivery.attempts >= MAX_ATTEMPTS:
            delivery.failed_at = now()
        else:
            delivery.next_attempt_at = now() + timedelta(seconds=2**delivery.attempts)
