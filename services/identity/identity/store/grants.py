"""Grants: the refresh tokens a token response keeps, their rotation and revocation,
and the standing of access tokens (which are never stored: `identity.store.denylist`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from identity.crypto import seal, unseal
from identity.models import RefreshToken
from identity.security import token_digest
from identity.store import denylist
from identity.store.base import StoreBase, dt, now, ts
from identity.store.snapshots import AccessInfo, RefreshInfo, Subject


@dataclass(frozen=True)
class NewTokens:
    """What a token response issued. Only the refresh token (the grant) is stored;
    `access_jti` and `access_expires_at` are kept for callers but not written."""

    client_id: str
    user_id: str | None
    family_id: str | None
    scope: str
    access_jti: str
    access_expires_at: int
    refresh_token: str | None
    refresh_expires_in: int
    subject: Subject | None
    resources: tuple[str, ...] = ()

    @property
    def keeps_grant(self) -> bool:
        """Whether `save_tokens` writes anything: a refresh token of a user's grant."""
        return bool(self.refresh_token and self.subject and self.family_id)


class TokenStore(StoreBase):
    async def save_tokens(self, new: NewTokens) -> None:
        """Keep the grant a token response created: its refresh token, if any.

        Access tokens are not stored (client_credentials writes nothing here): they
        are verified by signature, and revoked through the deny-list and the status
        of their client, user, grant and SSO session (`find_access`)."""
        if not new.keeps_grant or new.subject is None or new.refresh_token is None:
            return
        subject = new.subject
        self.session.add(
            RefreshToken(
                token_digest=token_digest(new.refresh_token),
                family_id=new.family_id,
                client_id=new.client_id,
                user_id=subject.user_id,
                sso_session_id=subject.sid,
                organization_id=subject.organization_id,
                scope=new.scope,
                auth_time=dt(subject.auth_time),
                acr=subject.acr,
                amr=list(subject.amr),
                expires_at=now() + timedelta(seconds=new.refresh_expires_in),
                resources=list(new.resources),
            )
        )
        await self.session.flush()

    async def find_refresh(self, token: str, grace: int = 0) -> tuple[RefreshInfo | None, bool]:
        """(info, reused): a rotated refresh token presented again is reuse (RFC 9700 §4.14),
        unless it comes back within `grace` seconds of its rotation: then `info.successor`
        is the token response its rotation issued, for the caller to answer again."""
        row = await self.session.scalar(
            select(RefreshToken)
            .where(RefreshToken.token_digest == token_digest(token))
            .execution_options(populate_existing=True)
        )
        if row is None:
            return None, False
        info = _refresh_info(row)
        rotated = row.rotated_at is not None and row.revoked_at is None
        within_grace = (
            rotated
            and row.rotated_at is not None
            and row.rotated_at + timedelta(seconds=grace) > now()
        )
        if within_grace and row.successor_encrypted:
            sealed = unseal(self.settings, "refresh-successor", row.successor_encrypted, row.id)
            return replace(info, successor=json.loads(sealed)), False
        return info, rotated

    async def claim_rotation(self, refresh_id: str) -> bool:
        """Claim a live refresh token for rotation; exactly one concurrent caller wins.

        A conditional update: on PostgreSQL a racing update waits for the winner's
        row lock and then finds the token rotated; on SQLite the write lock
        serializes the racers. The claim is the transaction's first write, so a
        loser's later reads see what the winner committed."""
        result = await self.session.execute(
            update(RefreshToken)
            .where(
                RefreshToken.id == refresh_id,
                RefreshToken.rotated_at.is_(None),
                RefreshToken.revoked_at.is_(None),
            )
            .values(rotated_at=now())
        )
        return getattr(result, "rowcount", 0) == 1

    async def mark_rotated(self, refresh_id: str, successor: dict[str, Any]) -> None:
        """Keep the response a claimed rotation issued (sealed) for the grace window."""
        sealed = seal(
            self.settings, "refresh-successor", json.dumps(successor).encode(), refresh_id
        )
        result = await self.session.execute(
            update(RefreshToken)
            .where(
                RefreshToken.id == refresh_id,
                RefreshToken.rotated_at.is_not(None),
                RefreshToken.successor_encrypted.is_(None),
            )
            .values(successor_encrypted=sealed)
        )
        if getattr(result, "rowcount", 0) != 1:
            raise RuntimeError("a refresh token was rotated without claiming it first")

    async def revoke_family(self, family_id: str) -> None:
        """Revoke a grant: its refresh tokens, and (through the deny-list, until the
        last of them expires) the access tokens issued from it."""
        stamp = now()
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=stamp)
        )
        lifetime = timedelta(seconds=self.settings.access_token_ttl)
        await denylist.deny(self.session, denylist.GRANT, family_id, stamp + lifetime)

    async def find_access(self, jti: str, claims: dict[str, Any]) -> AccessInfo | None:
        """A signature-verified access token and its standing (`identity.store.denylist`)."""
        return await denylist.find_access(self.session, jti, claims)

    async def revoke_access(self, jti: str, expires_at: int) -> None:
        """Deny one access token until it expires (RFC 7009)."""
        await denylist.deny(self.session, denylist.JTI, jti, dt(expires_at))


def _refresh_info(row: RefreshToken) -> RefreshInfo:
    return RefreshInfo(
        id=row.id,
        family_id=row.family_id,
        client_id=row.client_id,
        user_id=row.user_id,
        sso_session_id=row.sso_session_id,
        organization_id=row.organization_id,
        scope=row.scope,
        auth_time=ts(row.auth_time),
        acr=row.acr,
        amr=tuple(row.amr),
        expires_at=ts(row.expires_at),
        revoked=row.revoked_at is not None or row.rotated_at is not None,
        rotated_at=ts(row.rotated_at) if row.rotated_at else None,
        resources=tuple(row.resources),
    )
