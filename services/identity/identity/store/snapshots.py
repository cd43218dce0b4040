"""Immutable snapshots that Authlib's synchronous protocol code works on.

Authlib runs synchronously (see `identity.oauth.bridge`), where lazy ORM loads
would fail, and clients are cached across requests; the storage layer therefore
hands it plain frozen records implementing Authlib's mixins (RFC 6749 `ClientMixin`,
`AuthorizationCodeMixin`, `TokenMixin`; OIDC Core `AuthorizationCodeMixin`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin, scope_to_list
from authlib.oidc.core import AuthorizationCodeMixin

from identity.security import verify_client_secret
from identity.store.loopback import matches_any_port
from policy.names import Claim


@dataclass(frozen=True)
class ClientInfo(ClientMixin):
    client_id: str
    name: str
    secret_digest: str | None
    token_endpoint_auth_method: str
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]
    grant_types: tuple[str, ...]
    response_types: tuple[str, ...]
    scope: str
    jwks: dict[str, Any] | None
    organization_id: str | None
    pepper: str = field(repr=False, default="")
    resources: tuple[str, ...] = ()  # RFC 8707: the plans' APIs it may use, default first
    tax_ids: tuple[str, ...] = ()  # verified TINs granted to it (client_credentials tokens)

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == "none"

    @property
    def client_metadata(self) -> dict[str, Any]:
        return {"post_logout_redirect_uris": list(self.post_logout_redirect_uris)}

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # OpenID Connect requires redirect_uri; never guess one.
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = scope_to_list(self.scope) or []
        if not scope:
            return " ".join(allowed)
        return " ".join(s for s in scope_to_list(scope) if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # Exact string match, as OAuth 2.0 Security BCP (RFC 9700 §4.1.3) requires,
        # except the port of a public client's loopback IP literal URI (RFC 8252 §7.3).
        if redirect_uri in self.redirect_uris:
            return True
        return self.is_public and matches_any_port(redirect_uri, self.redirect_uris)

    def check_client_secret(self, client_secret: str) -> bool:
        return verify_client_secret(client_secret, self.secret_digest, self.pepper)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if endpoint == "token":
            return method == self.token_endpoint_auth_method
        return method == self.token_endpoint_auth_method or (method == "none" and self.is_public)

    def check_response_type(self, response_type: str) -> bool:
        return response_type in self.response_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


@dataclass(frozen=True)
class OrgContext:
    """One active organization's grant to a user: its TINs and the roles held there."""

    id: str
    name: str
    tax_ids: tuple[str, ...]
    roles: tuple[str, ...]


@dataclass(frozen=True)
class Subject:
    """The authenticated user and the organization context a token is for.

    A single-organization context has `organization_id` set (`orgs` holds that one
    organization, or nothing for a user without memberships); a multi-organization
    context has `organization_id` None and two or more `orgs`, with `tax_ids` their
    union and `roles` the roles held in every one of them.
    """

    user_id: str
    username: str
    email: str
    given_name: str
    family_name: str
    organization_id: str | None
    organization_name: str | None
    tax_ids: tuple[str, ...]
    roles: tuple[str, ...]
    auth_time: int
    acr: str
    amr: tuple[str, ...]
    sid: str | None
    orgs: tuple[OrgContext, ...] = ()
    grant_id: str | None = None  # the grant (refresh-token family) being used

    def grant_claims(self) -> dict[str, str]:
        """What an access token carries so its revocation can be recognised."""
        claims = {Claim.GRANT_ID: self.grant_id} if self.grant_id else {}
        return {**claims, Claim.SID: self.sid} if self.sid else claims

    @property
    def is_multi_org(self) -> bool:
        return self.organization_id is None and len(self.orgs) > 1

    def get_user_id(self) -> str:
        return self.user_id


@dataclass(frozen=True)
class CodeInfo(AuthorizationCodeMixin):
    client_id: str
    user_id: str
    sso_session_id: str | None
    organization_id: str | None
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int
    acr: str
    amr: tuple[str, ...]
    family_id: str
    resources: tuple[str, ...] = ()  # RFC 8707: granted at /authorize

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> str | None:
        return self.acr or None

    def get_amr(self) -> list[str] | None:
        return list(self.amr) or None


@dataclass(frozen=True)
class RefreshInfo(TokenMixin):
    id: str
    family_id: str
    client_id: str
    user_id: str
    sso_session_id: str | None
    organization_id: str | None
    scope: str
    auth_time: int
    acr: str
    amr: tuple[str, ...]
    expires_at: int
    revoked: bool
    rotated_at: int | None = None
    successor: dict[str, Any] | None = field(default=None, repr=False)
    resources: tuple[str, ...] = ()  # RFC 8707: granted with the authorization code

    def check_client(self, client: ClientInfo) -> bool:
        return self.client_id == client.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return max(0, self.expires_at - int(time.time()))

    def is_expired(self) -> bool:
        return self.expires_at <= int(time.time())

    def is_revoked(self) -> bool:
        return self.revoked


@dataclass(frozen=True)
class AccessInfo(TokenMixin):
    """A JWT access token known by its `jti` (RFC 9068 §2.2)."""

    jti: str
    client_id: str
    user_id: str | None
    family_id: str | None
    scope: str
    expires_at: int
    revoked: bool
    claims: dict[str, Any]

    def check_client(self, client: ClientInfo) -> bool:
        return self.client_id == client.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return max(0, self.expires_at - int(time.time()))

    def is_expired(self) -> bool:
        return self.expires_at <= int(time.time())

    def is_revoked(self) -> bool:
        return self.revoked
