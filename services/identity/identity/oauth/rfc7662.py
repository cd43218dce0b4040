"""RFC 7662: OAuth 2.0 token introspection.

A confidential client may introspect the tokens issued to it. Revoked, rotated
and expired tokens answer `{"active": false}`.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from identity.oauth.bridge import current
from identity.oauth.tokens import find_token
from identity.store.snapshots import AccessInfo, ClientInfo, RefreshInfo
from policy.names import Claim


class TinpassIntrospectionEndpoint(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]

    def query_token(
        self, token_string: str, token_type_hint: str | None
    ) -> AccessInfo | RefreshInfo | None:
        return find_token(token_string, token_type_hint)

    def check_permission(
        self, token: AccessInfo | RefreshInfo, client: ClientInfo, request: Any
    ) -> bool:
        return bool(token.check_client(client))

    def introspect_token(self, token: AccessInfo | RefreshInfo) -> dict[str, Any]:
        settings = current().settings
        if isinstance(token, AccessInfo):
            claims = token.claims
            return {
                "active": True,
                "token_type": "Bearer",
                "iss": settings.issuer,
                "scope": token.scope,
                "client_id": token.client_id,
                "sub": claims.get("sub"),
                "aud": claims.get("aud"),
                "exp": token.expires_at,
                "iat": claims.get("iat"),
                "jti": token.jti,
                Claim.ORG_ID: claims.get(Claim.ORG_ID),
                Claim.TAX_IDS: claims.get(Claim.TAX_IDS, []),
                Claim.ROLES: claims.get(Claim.ROLES, []),
            }
        return {
            "active": True,
            "token_type": "refresh_token",
            "iss": settings.issuer,
            "scope": token.scope,
            "client_id": token.client_id,
            "sub": token.user_id,
            "exp": token.expires_at,
        }
