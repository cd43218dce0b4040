"""Authorization codes: issued once, used once (a second use is a replay)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update

from identity.models import AuthorizationCode
from identity.security import token_digest
from identity.store.base import StoreBase, dt, now, ts
from identity.store.snapshots import CodeInfo


@dataclass(frozen=True)
class NewCode:
    code: str
    info: CodeInfo
    expires_in: int


class CodeStore(StoreBase):
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
                auth_time=dt(info.auth_time),
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
        auth_time=ts(row.auth_time),
        acr=row.acr,
        amr=tuple(row.amr),
        family_id=row.family_id,
        resources=tuple(row.resources),
    )
