"""RFC 9068: JSON Web Token (JWT) profile for OAuth 2.0 access tokens.

Access tokens are signed JWTs (`typ: at+jwt`) whose `aud` is the resource (one
health plan's APIs) chosen by `identity.oauth.rfc8707`, signed with the active
access-token key (`Settings.access_token_alg`: ES256 by default, RS256 available).
Extra claims come from claim hooks (`identity.oauth.tin_projection`), so grants
never decide what a token says. A user's token also names its grant and SSO session
(`Subject.grant_claims`), which is how its revocation is known without storing it.
The generator makes the `jti` itself (and records it, with the expiry, for
`save_token`), so nothing parses the signed token back.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from joserfc.jwk import KeySet

from identity.oauth.bridge import current
from identity.settings import Settings
from identity.store.snapshots import ClientInfo, Subject
from policy.names import Claim, Scope

ClaimsHook = Callable[[ClientInfo, str, Subject | None, str], dict[str, Any]]


def signing_key_set() -> KeySet:
    """The active ID-token key of the current request, as a one-key set (kid kept)."""
    return KeySet([current().signing.key])


def new_token(nbytes: int = 32) -> str:
    """A random token (codes, refresh tokens, jti): `secrets.token_urlsafe`, not Authlib's
    `generate_token`, which draws from SystemRandom once per character."""
    return secrets.token_urlsafe(nbytes)


class AccessTokenGenerator(JWTBearerTokenGenerator):
    """Authlib's RFC 9068 generator, keyed by the active signing key."""

    def __init__(self, settings: Settings, claim_hooks: list[ClaimsHook]) -> None:
        super().__init__(
            issuer=settings.issuer,
            alg=settings.access_token_alg,
            refresh_token_generator=self._refresh_token,
            expires_generator=lambda client, grant_type: settings.access_token_ttl,
        )
        self.settings = settings
        self.claim_hooks = claim_hooks

    @property
    def alg(self) -> str:
        return current().access_key.alg

    @alg.setter
    def alg(self, value: str) -> None:
        """The algorithm follows the active key; the constructor's value is ignored."""

    @staticmethod
    def _refresh_token(**_: Any) -> str:
        return new_token(36)

    def get_jwks(self) -> KeySet:
        return KeySet([current().access_key.key])

    def get_jti(self, client: ClientInfo, grant_type: str, user: Subject | None, scope: str) -> str:
        jti = new_token(18)
        expires_at = int(time.time()) + self.settings.access_token_ttl
        current().issued_jti = (jti, expires_at)  # `exp` may be a second earlier, never later
        return jti

    def get_audiences(
        self, client: ClientInfo, user: Subject | None, scope: str
    ) -> str | list[str]:
        """The chosen resource; with `tinpass:admin` (or without a resource), identity itself."""
        resource = current().resource
        audiences = [resource] if resource else []
        if Scope.ADMIN in scope.split() or not audiences:
            audiences.append(self.settings.issuer)
        return audiences[0] if len(audiences) == 1 else audiences

    def get_auth_time(self, user: Subject | None) -> int | None:
        return user.auth_time if user else None

    def get_acr(self, user: Subject | None) -> str | None:
        return (user.acr or None) if user else None

    def get_amr(self, user: Subject | None) -> list[str] | None:
        return list(user.amr) if user and user.amr else None

    def get_extra_claims(
        self, client: ClientInfo, grant_type: str, user: Subject | None, scope: str
    ) -> dict[str, Any]:
        claims: dict[str, Any] = {"nbf": int(time.time())}
        for hook in self.claim_hooks:
            claims.update(hook(client, grant_type, user, scope))
        if user is not None:
            claims.update(user.grant_claims())
        current().issued_tax_ids = claims.get(Claim.TAX_IDS, [])
        return claims
