"""The authorization server: Authlib's RFC 6749 server, assembled for TINpass.

Grants, client authentication methods, endpoints and hooks are registered here
and nowhere else: PKCE (`rfc7636`), OpenID Connect (`oidc`), TIN projection
(`tin_projection`), private_key_jwt (`rfc7523`) and resource indicators
(`rfc8707`) are hooks on the grants, not
branches inside them.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import InvalidClientError

from identity.oauth import client_authentication, wording
from identity.oauth.bridge import BridgedRequest, ProtocolResponse, current
from identity.oauth.discovery import SCOPES
from identity.oauth.grants import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    RefreshTokenGrant,
)
from identity.oauth.oidc import TinpassOpenIDCode
from identity.oauth.rfc7009 import TinpassRevocationEndpoint
from identity.oauth.rfc7523 import PrivateKeyJWT
from identity.oauth.rfc7636 import S256CodeChallenge
from identity.oauth.rfc7662 import TinpassIntrospectionEndpoint
from identity.oauth.rfc8707 import (
    ClientResources,
    CodeResources,
    RefreshResources,
    granted_resources,
)
from identity.oauth.rfc9068 import AccessTokenGenerator
from identity.oauth.rpinitiated import TinpassEndSessionEndpoint
from identity.oauth.tin_projection import project_tax_ids
from identity.settings import Settings
from identity.store import NewTokens
from identity.store.snapshots import ClientInfo, Subject
from policy.observability import identify


class TinpassAuthorizationServer(AuthorizationServer):
    def __init__(self, settings: Settings) -> None:
        super().__init__(scopes_supported=SCOPES)
        self.settings = settings
        self.register_token_generator("default", AccessTokenGenerator(settings, [project_tax_ids]))
        self.register_client_auth_method(
            PrivateKeyJWT.CLIENT_AUTH_METHOD,
            PrivateKeyJWT(settings.issuer, settings.client_assertion_max_lifetime),
        )
        self.register_grant(
            AuthorizationCodeGrant, [S256CodeChallenge(), TinpassOpenIDCode(), CodeResources()]
        )
        self.register_grant(RefreshTokenGrant, [RefreshResources()])
        self.register_grant(ClientCredentialsGrant, [ClientResources()])
        self.register_endpoint(TinpassIntrospectionEndpoint)
        self.register_endpoint(TinpassRevocationEndpoint)
        self.register_endpoint(TinpassEndSessionEndpoint)

    def query_client(self, client_id: str) -> ClientInfo | None:
        return current().client(client_id)

    def authenticate_client(self, request: Any, methods: Any, endpoint: str = "token") -> Any:
        """Authlib's client authentication; every failure is audited (without the credential)."""
        try:
            client = super().authenticate_client(request, methods, endpoint)
        except InvalidClientError as error:
            details = client_authentication.audit_details(error, request, endpoint)
            current().emit(client_authentication.EVENT, **details)
            raise
        identify(current().scope, client.client_id, client.organization_id)  # its log line
        return client

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        """Queue the one write for what was issued (`store.save_tokens`) and its event."""
        ctx = current()
        assert ctx.issued_jti is not None, "the access token generator records its jti"
        jti, expires_at = ctx.issued_jti
        subject: Subject | None = request.user
        new = NewTokens(
            client_id=request.client.client_id,
            user_id=subject.user_id if subject else None,
            family_id=_family_of(request),
            scope=token.get("scope", ""),
            access_jti=jti,
            access_expires_at=expires_at,
            refresh_token=token.get("refresh_token"),
            refresh_expires_in=self.settings.refresh_token_ttl,
            subject=subject,
            resources=granted_resources(request),
        )
        if new.keeps_grant:  # client_credentials keeps nothing: no write queued
            ctx.later(ctx.store.save_tokens, new)
        ctx.emit(
            "token.issued",
            client_id=new.client_id,
            user_id=new.user_id,
            grant_type=request.payload.grant_type,
            tax_ids=ctx.issued_tax_ids,
        )

    def create_oauth2_request(self, request: BridgedRequest) -> BridgedRequest:
        return request

    def create_json_request(self, request: Any) -> Any:
        raise TypeError("TINpass accepts no JSON requests at its OAuth endpoints")

    def handle_error_response(self, request: Any, error: Any) -> ProtocolResponse:
        """Every OAuth error answer (JSON or redirect), its description in plain words."""
        response: ProtocolResponse = super().handle_error_response(
            request, wording.in_plain_words(error)
        )
        return response

    def handle_response(self, status: int, body: Any, headers: Any) -> ProtocolResponse:
        return ProtocolResponse(status, body, list(headers))

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """Events are recorded by the grants themselves (see ProtocolContext.emit)."""


def _family_of(request: Any) -> str | None:
    if request.authorization_code is not None:
        family: str = request.authorization_code.family_id
        return family
    if request.refresh_token is not None:
        family = request.refresh_token.family_id
        return family
    return None
