"""Verifying this issuer's own access tokens inside identity (userinfo, admin API):
signature by a published key, `typ`, `iss`, audience, expiry, and not revoked."""

from __future__ import annotations

import time
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError

from identity.keys import KeyStore, key_set
from identity.settings import Settings
from identity.store import OAuthStore
from identity.store.snapshots import AccessInfo
from policy import InvalidToken

ALGORITHMS = ["RS256", "ES256"]


async def verify_access_token(
    token: str, keystore: KeyStore, store: OAuthStore, settings: Settings, audience: str
) -> tuple[dict[str, Any], AccessInfo]:
    try:
        decoded = jwt.decode(token, key_set(await keystore.public_jwks()), algorithms=ALGORITHMS)
    except (JoseError, ValueError) as error:
        raise InvalidToken("invalid_token", "The access token is not valid.") from error
    claims = dict(decoded.claims)
    audiences = claims.get("aud")
    audiences = [audiences] if isinstance(audiences, str) else audiences or []
    if decoded.header.get("typ") != "at+jwt" or claims.get("iss") != settings.issuer:
        raise InvalidToken("invalid_token", "The token is not an access token of this issuer.")
    if audience not in audiences:
        raise InvalidToken("invalid_token", "The access token is for another audience.")
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= time.time():
        raise InvalidToken("invalid_token", "The access token expired.")
    known = await store.find_access(str(claims.get("jti")), claims)
    if known is None or known.is_revoked():
        raise InvalidToken("invalid_token", "The access token was revoked.")
    return claims, known
