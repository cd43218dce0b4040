"""OpenID Connect Core 1.0: ID tokens and userinfo claims.

The ID token carries iss, sub, aud, exp, iat, auth_time, nonce, acr and amr,
signed with the active key (its `kid` in the header), and the organization context
without TIN lists (those belong in the access token; the ID token travels in URLs
as `id_token_hint` and must stay small). Userinfo claims follow the granted scopes
(§5.4) plus TINpass's organization context, TIN lists included (as JSON arrays:
a response body has no header limit).
"""

from __future__ import annotations

import time
from typing import Any

from authlib.oidc.core import OpenIDCode, UserInfo
from joserfc.jwk import KeySet

from identity.oauth.bridge import current, on_loop
from identity.oauth.rfc9068 import signing_key_set
from identity.store.org_context import identity_claims
from identity.store.snapshots import ClientInfo, Subject
from policy.names import Claim, Scope


def user_claims(subject: Subject, scope: str, *, with_tins: bool = True) -> dict[str, Any]:
    scopes = set(scope.split())
    claims: dict[str, Any] = {"sub": subject.user_id}
    if Scope.PROFILE in scopes:
        claims.update(
            preferred_username=subject.username,
            given_name=subject.given_name,
            family_name=subject.family_name,
            name=f"{subject.given_name} {subject.family_name}".strip(),
        )
    if Scope.EMAIL in scopes:
        claims.update(email=subject.email)
    claims.update(identity_claims(subject, with_tins=with_tins))
    return claims


class TinpassOpenIDCode(OpenIDCode):
    """The OIDC extension of the authorization code grant."""

    def __init__(self) -> None:
        super().__init__(require_nonce=False)

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        return bool(on_loop(current().store.nonce_used, request.payload.client_id, nonce))

    def resolve_client_private_key(self, client: ClientInfo) -> KeySet:
        return signing_key_set()

    def get_client_algorithm(self, client: ClientInfo) -> str:
        return current().signing.alg

    def get_encode_header(self, client: ClientInfo) -> dict[str, str]:
        signing = current().signing
        return {"alg": signing.alg, "kid": signing.kid, "typ": "JWT"}

    def get_client_claims(self, client: ClientInfo) -> dict[str, Any]:
        settings = current().settings
        now = int(time.time())
        return {
            "iss": settings.issuer,
            "aud": client.client_id,
            "iat": now,
            "exp": now + settings.id_token_ttl,
        }

    def generate_user_info(self, user: Subject, scope: str) -> UserInfo:
        claims = user_claims(user, scope, with_tins=False)
        if user.sid:
            claims[Claim.SID] = user.sid
        return UserInfo(claims)
