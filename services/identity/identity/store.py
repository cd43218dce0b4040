"""Storage for the OAuth 2.0 / OpenID Connect protocol, on one AsyncSession.

One small interface, implemented once with async SQLAlchemy: the protocol code
asks for snapshots (`identity.oauth.models`) and records what it issued. The
caller owns the transaction; nothing here commits.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from identity import backchannel_logout, denylist
from identity.crypto import seal, unseal
from identity.models import (
    AuthorizationCode,
    Client,
    RefreshToken,
    SsoSession,
    TaxId,
    UsedClientAssertion,
)
from identity.oauth.models import (
    AccessInfo,
    ClientInfo,
    CodeInfo,
    RefreshInfo,
    Subject,
)
from identity.security import token_digest
from identity.settings import Settings
from identity.subjects import Standing, read_standing, subject_of
from policy.inputs import acceptable, column_length

CLIENT_ID_LENGTH = column_length(Client.client_id)
JTI_LENGTH = column_length(UsedClientAssertion.jti)


def _ts(value: datetime) -> int:
    return int(value.timestamp())


def _dt(value: int) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class NewCode:
    code: str
    info: CodeInfo
    expires_in: int


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


class OAuthStore:
    """Protocol storage over the request's session (no commits here)."""

    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.pepper = settings.client_secret_pepper
        self._nonces_used: dict[tuple[str, str], bool] = {}
        self._standings: dict[str, Standing | None] = {}

    # -- clients -----------------------------------------------------------
    async def get_client(self, client_id: str) -> ClientInfo | None:
        """A client with its organization and verified TINs (what a client_credentials
        token carries), in one read; callers cache it (`identity.oauth.client_cache`)."""
        if not acceptable(client_id, CLIENT_ID_LENGTH):  # e.g. from a Basic header
            return None
        row = await self.session.scalar(
            select(Client)
            .options(selectinload(Client.tax_ids))
            .where(Client.client_id == client_id)
        )
        if row is None:
            return None
        return ClientInfo(
            client_id=row.client_id,
            name=row.name,
            secret_digest=row.secret_digest,
            token_endpoint_auth_method=row.token_endpoint_auth_method,
            redirect_uris=tuple(row.redirect_uris),
            post_logout_redirect_uris=tuple(row.post_logout_redirect_uris),
            grant_types=tuple(row.grant_types),
            response_types=tuple(row.response_types),
            scope=row.scope,
            jwks=row.jwks,
            organization_id=row.organization_id,
            pepper=self.pepper,
            resources=tuple(row.resources),
            tax_ids=_verified(row.tax_ids),
        )

    async def remember_assertion(self, client_id: str, jti: str, expires_at: int) -> bool:
        """Record a client assertion's jti; False when it was seen before (RFC 7523 §3)
        or cannot be kept (control characters, longer than the column).

        One conditional upsert: a new jti is inserted; a jti already there is a
        replay unless its assertion has expired (the janitor has not pruned it
        yet), in which case it is taken over. Concurrent uses of one jti meet on
        the primary key, so exactly one of them is accepted."""
        if not acceptable(jti, JTI_LENGTH):
            return False
        insert = denylist.upsert(self.session, UsedClientAssertion).values(
            client_id=client_id, jti=jti, expires_at=_dt(expires_at)
        )
        result = await self.session.execute(
            insert.on_conflict_do_update(
                index_elements=["client_id", "jti"],
                set_={"expires_at": insert.excluded.expires_at},
                where=UsedClientAssertion.expires_at <= now(),
            )
        )
        return getattr(result, "rowcount", 0) == 1

    # -- subjects ----------------------------------------------------------
    async def standing(self, user_id: str) -> Standing | None:
        """The user with their memberships (`identity.subjects`, one query), read once
        per request: a login consults it for the second-factor rule and the subject."""
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
        (`identity.subjects.subject_of`)."""
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

    # -- authorization codes ----------------------------------------------
    async def save_code(self, new: NewCode) -> None:
        info = new.info
        self.session.add(
            AuthorizationCode(
                code_digest=token_digest(new.code),
                client_id=info.client_id,
                user_id=info.user_id,
                sso_session_id=info.sso_session_id,
                organization_id=info.organization_id,
                redirect_uri=info.redirect_uri,
                scope=info.scope,
                nonce=info.nonce,
                code_challenge=info.code_challenge,
                code_challenge_method=info.code_challenge_method,
                auth_time=_dt(info.auth_time),
                acr=info.acr,
                amr=list(info.amr),
                family_id=info.family_id,
                expires_at=now() + timedelta(seconds=new.expires_in),
                resources=list(info.resources),
            )
        )
        await self.session.flush()

    async def claim_code(self, code: str, client_id: str) -> tuple[CodeInfo | None, bool]:
        """Use a code once: (info, replayed). A used code is a replay (RFC 6749 §4.1.2)."""
        digest = token_digest(code)
        row = await self.session.get(AuthorizationCode, digest)
        if row is None or row.client_id != client_id:
            return None, False
        result = await self.session.execute(
            update(AuthorizationCode)
            .where(AuthorizationCode.code_digest == digest, AuthorizationCode.used_at.is_(None))
            .values(used_at=now())
        )
        if getattr(result, "rowcount", 0) != 1:
            return _code_info(row), True
        if row.expires_at <= now():
            return None, False
        return _code_info(row), False

    async def nonce_used(self, client_id: str, nonce: str) -> bool:
        """Whether a code was issued with this nonce; asked once per request (Authlib
        asks again while issuing, and this request's own code is written after both)."""
        if (client_id, nonce) not in self._nonces_used:
            found = await self.session.scalar(
                select(AuthorizationCode.code_digest)
                .where(AuthorizationCode.client_id == client_id, AuthorizationCode.nonce == nonce)
                .limit(1)
            )
            self._nonces_used[client_id, nonce] = found is not None
        return self._nonces_used[client_id, nonce]

    # -- tokens ------------------------------------------------------------
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
                auth_time=_dt(subject.auth_time),
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
        """A signature-verified access token and its standing (`identity.denylist`)."""
        return await denylist.find_access(self.session, jti, claims)

    async def revoke_access(self, jti: str, expires_at: int) -> None:
        """Deny one access token until it expires (RFC 7009)."""
        await denylist.deny(self.session, denylist.JTI, jti, _dt(expires_at))

    # -- SSO sessions ------------------------------------------------------
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


def _verified(rows: Iterable[TaxId]) -> tuple[str, ...]:
    """Only verified TINs reach a token, whatever grant might linger."""
    return tuple(sorted({t.tin for t in rows if t.status == "active"}))


def _code_info(row: AuthorizationCode) -> CodeInfo:
    return CodeInfo(
        client_id=row.client_id,
        user_id=row.user_id,
        sso_session_id=row.sso_session_id,
        organization_id=row.organization_id,
        redirect_uri=row.redirect_uri,
        scope=row.scope,
        nonce=row.nonce,
        code_challenge=row.code_challenge,
        code_challenge_method=row.code_challenge_method,
        auth_time=_ts(row.auth_time),
        acr=row.acr,
        amr=tuple(row.amr),
        family_id=row.family_id,
        resources=tuple(row.resources),
    )


def _refresh_info(row: RefreshToken) -> RefreshInfo:
    return RefreshInfo(
        id=row.id,
        family_id=row.family_id,
        client_id=row.client_id,
        user_id=row.user_id,
        sso_session_id=row.sso_session_id,
        organization_id=row.organization_id,
        scope=row.scope,
        auth_time=_ts(row.auth_time),
        acr=row.acr,
        amr=tuple(row.amr),
        expires_at=_ts(row.expires_at),
        revoked=row.revoked_at is not None or row.rotated_at is not None,
        rotated_at=_ts(row.rotated_at) if row.rotated_at else None,
        resources=tuple(row.resources),
    )
