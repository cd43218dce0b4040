"""The deny-list, and what else decides whether an issued access token still stands.

Access tokens are not stored. One that was revoked (RFC 7009) is denied by its
`jti`; one issued from a grant that was revoked (a refresh-token family: refresh
token revoked, reused after rotation, authorization code replayed) is denied by
the grant id it carries (`grant_id`). Entries live until the last token they can
deny has expired; the janitor deletes them then. Beyond the deny-list a token is
inactive once its client is deleted, its user may no longer sign in, or the SSO
session it was issued in (`sid`) has ended.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from identity.models import Client, DeniedToken, SsoSession, User
from identity.store.snapshots import AccessInfo
from policy.names import Claim

JTI, GRANT = "jti", "grant"  # the kinds of deny-list entries


def upsert(session: AsyncSession, model: Any) -> Any:
    """INSERT … ON CONFLICT for the session's database (PostgreSQL or SQLite)."""
    dialect = session.get_bind().dialect.name
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(model)


async def deny(session: AsyncSession, kind: str, value: str, expires_at: datetime) -> None:
    """Add to the deny-list; an entry already there is kept at least as long."""
    insert = upsert(session, DeniedToken).values(kind=kind, value=value, expires_at=expires_at)
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=["kind", "value"],
            set_={"expires_at": insert.excluded.expires_at},
            where=DeniedToken.expires_at < insert.excluded.expires_at,
        )
    )


async def denied(session: AsyncSession, jti: str, grant: str | None) -> bool:
    keys = [and_(DeniedToken.kind == JTI, DeniedToken.value == jti)]
    if grant:
        keys.append(and_(DeniedToken.kind == GRANT, DeniedToken.value == grant))
    found = await session.scalar(select(DeniedToken.kind).where(or_(*keys)).limit(1))
    return found is not None


async def find_access(session: AsyncSession, jti: str, claims: dict[str, Any]) -> AccessInfo | None:
    """The standing of an access token whose signature was verified: None when its
    claims are not ours, `revoked` when its jti or grant is on the deny-list, its
    client is gone, its user may not sign in or its SSO session has ended."""
    client_id, expires_at = claims.get("client_id"), claims.get("exp")
    if not isinstance(client_id, str) or not isinstance(expires_at, int):
        return None
    sub, grant = claims.get("sub"), claims.get(Claim.GRANT_ID)
    info = AccessInfo(
        jti=jti,
        client_id=client_id,
        user_id=sub if isinstance(sub, str) and sub != client_id else None,
        family_id=grant if isinstance(grant, str) else None,
        scope=str(claims.get("scope", "")),
        expires_at=expires_at,
        revoked=False,
        claims=claims,
    )
    return replace(info, revoked=not await standing(session, info))


async def standing(session: AsyncSession, info: AccessInfo) -> bool:
    """True when nothing the token depends on was revoked (expiry is the caller's)."""
    if await denied(session, info.jti, info.family_id):
        return False
    client = await session.get(Client, info.client_id)
    issued_at = info.claims.get("iat")
    if client is None:
        return False
    if isinstance(issued_at, int) and issued_at < int(client.created_at.timestamp()):
        return False  # issued to an earlier client of the same id, since deleted
    if info.user_id is not None:
        status = await session.scalar(select(User.status).where(User.id == info.user_id))
        if status != "active":
            return False
    sid = info.claims.get(Claim.SID)
    if isinstance(sid, str):
        found = await session.execute(select(SsoSession.ended_at).where(SsoSession.id == sid))
        row = found.first()
        if row is None or row.ended_at is not None:
            return False
    return True
