"""Forgotten password and username: the requests' work, done off the request path.

`/forgot-password` and `/forgot-username` do the same thing whatever was typed:
they count the request against the per-address limit and hand a
`RecoveryRequest` to this desk; the answer page is the same. A worker in each
identity process then looks the account up, counts it against the per-account
limit, issues the reset link (with its audit event, one transaction) and sends
the mail. So neither the answer nor its timing says whether an account exists,
and a burst of requests for one account sends at most the per-account limit of
mails. The queue is bounded; when it is full a request is dropped (and logged),
exactly as a throttled one.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from identity import action_tokens, audit
from identity.mail import Mailer
from identity.models import User
from identity.settings import Settings
from identity.throttle import Throttle

log = logging.getLogger(__name__)

Kind = Literal["password", "username"]
ACCOUNT_BUCKET = "recovery_account"


@dataclass(frozen=True)
class RecoveryRequest:
    kind: Kind
    typed: str
    source_address: str | None
    request_id: str | None


class RecoveryDesk:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        mailer: Mailer,
        throttle: Throttle,
    ) -> None:
        self.sessionmaker, self.settings = sessionmaker, settings
        self.mailer, self.throttle = mailer, throttle
        self.queue: asyncio.Queue[RecoveryRequest] = asyncio.Queue(settings.recovery_queue_size)

    def submit(self, request: RecoveryRequest) -> None:
        """Accept a request without doing any of its work (the same for every input)."""
        try:
            self.queue.put_nowait(request)
        except asyncio.QueueFull:
            log.warning("recovery queue full; a %s request was dropped", request.kind)

    async def run(self) -> None:
        while True:
            request = await self.queue.get()
            try:
                await self.handle(request)
            except Exception:
                log.exception("a %s recovery request failed", request.kind)
            finally:
                self.queue.task_done()

    async def drained(self) -> None:
        """Wait until every submitted request has been handled."""
        await self.queue.join()

    async def handle(self, request: RecoveryRequest) -> None:
        async with self.sessionmaker() as session:
            user = await _account(session, request)
            if user is None or user.status != "active":
                return
            if await self.throttle.retry_after(ACCOUNT_BUCKET, user.id) is not None:
                log.info("recovery mail for an account withheld: per-account limit")
                return
            if request.kind == "password":
                await self._reset_link(session, request, user)
            else:
                await self.mailer.send(
                    user.email,
                    "Your TINpass username",
                    f"The username of the TINpass account for this address is: {user.username}\n",
                )

    async def _reset_link(
        self, session: AsyncSession, request: RecoveryRequest, user: User
    ) -> None:
        settings = self.settings
        token = await action_tokens.issue(
            session, "password_reset", user.id, settings.reset_link_ttl
        )
        await audit.record(
            session,
            "password.reset_requested",
            actor_type="user",
            actor_id=user.id,
            target_type="user",
            target_id=user.id,
            source_address=request.source_address,
            request_id=request.request_id,
        )
        await session.commit()
        link = f"{settings.issuer.rstrip('/')}/reset-password?token={token}"
        minutes = settings.reset_link_ttl // 60
        await self.mailer.send(
            user.email,
            "Reset your TINpass password",
            f"Someone asked to reset the password of TINpass account {user.username}.\n\n"
            f"To choose a new password, open this link within {minutes} minutes "
            f"(it works once):\n{link}\n\n"
            "If it was not you, ignore this e-mail; your password stays as it is.",
        )


async def _account(session: AsyncSession, request: RecoveryRequest) -> User | None:
    typed = request.typed.strip()
    if request.kind == "username":
        condition = User.email_normalized == typed.lower()
    else:
        condition = or_(
            User.username_normalized == typed.casefold(), User.email_normalized == typed.lower()
        )
    found: User | None = await session.scalar(select(User).where(condition))
    return found
