"""Finding a presented token, JWT access token or opaque refresh token.

Shared by introspection (RFC 7662) and revocation (RFC 7009): a JWT access token
is recognised by its signature under one of our published keys and known by its
`jti`; anything else is looked up as a refresh token.
"""

from __future__ import annotations

from joserfc import jwt
from joserfc.errors import JoseError

from identity.keys import key_set
from identity.oauth.bridge import current, on_loop
from identity.store.snapshots import AccessInfo, RefreshInfo

SIGNING_ALGORITHMS = ["RS256", "ES256"]


def find_token(token: str, hint: str | None) -> AccessInfo | RefreshInfo | None:
    if token.count(".") == 2:
        access = _find_access(token)
        if access is not None or hint == "access_token":
            return access
    info, _reused = on_loop(current().store.find_refresh, token)
    result: RefreshInfo | None = info
    return result


def _find_access(token: str) -> AccessInfo | None:
    ctx = current()
    try:
        decoded = jwt.decode(token, key_set(ctx.jwks), algorithms=SIGNING_ALGORITHMS)
    except (JoseError, ValueError):
        return None
    jti = decoded.claims.get("jti")
    if not isinstance(jti, str):
        return None
    found: AccessInfo | None = on_loop(ctx.store.find_access, jti, dict(decoded.claims))
    return found
