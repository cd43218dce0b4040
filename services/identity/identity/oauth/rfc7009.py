"""RFC 7009: OAuth 2.0 token revocation.

Revoking a refresh token revokes its whole family (the access tokens of the same
grant included, §2.1, through the grant id they carry); revoking an access token
puts its `jti` on the deny-list until it expires, and introspection and userinfo
then report it inactive (`identity.store.denylist`). Unknown tokens answer 200, as §2.2 asks.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc7009 import RevocationEndpoint

from identity.oauth.bridge import current, on_loop
from identity.oauth.tokens import find_token
from identity.store.snapshots import AccessInfo, RefreshInfo


class TinpassRevocationEndpoint(RevocationEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]

    def query_token(
        self, token_string: str, token_type_hint: str | None
    ) -> AccessInfo | RefreshInfo | None:
        return find_token(token_string, token_type_hint)

    def revoke_token(self, token: AccessInfo | RefreshInfo, request: Any) -> None:
        ctx = current()
        if isinstance(token, AccessInfo):
            on_loop(ctx.store.revoke_access, token.jti, token.expires_at)
        else:
            on_loop(ctx.store.revoke_family, token.family_id)
        ctx.emit(
            "token.revoked", client_id=token.client_id, user_id=getattr(token, "user_id", None)
        )
