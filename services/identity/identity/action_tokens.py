"""Single-use, expiring links (password reset, e-mail confirmation), stored as digests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from identity.models import ActionToken
from identity.security import generate_secret, token_digest


async def issue(session: AsyncSession, purpose: str, user_id: str, ttl: int, **data: Any) -> str:
    token = generate_secret()
    session.add(
        ActionToken(
            token_digest=token_digest(token),
            purpose=purpose,
            user_id=user_id,
            data=data,
            expires_at=datetime.now(UTC) + timedelta(seconds=ttl),
        )
    )
    await session.flush()
    return token


async def peek(session: AsyncSession, purpose: str, token: str | None) -> ActionToken | None:
    """The link's record while it is unused and unexpired (it stays usable)."""
    if not token:
        return None
    row = await session.scalar(
        select(ActionToken).where(
            ActionToken.token_digest == token_digest(token), ActionToken.purpose == purpose
        )
    )
    if row is None or row.used_at is not None or row.expires_at <= datetime.now(UTC):
        return None
    return row


async def use(session: AsyncSession, purpose: str, token: str | None) -> ActionToken | None:
    """Consume the link once; a second use, or a race, gets None."""
    row = await peek(session, purpose, token)
    if row is None:
        return None
    result = await session.execute(
        update(ActionToken)
        .where(ActionToken.token_digest == row.token_digest, ActionToken.used_at.is_(None))
        .values(used_at=datetime.now(UTC))
    )
    return row if getattr(result, "rowcount", 0) == 1 else None
