"""OpenID Connect Discovery 1.0 and RFC 8414 authorization server metadata.

`tinpass_resources` (an extension; RFC 8707 defines no metadata) lists the
resources a token can be asked for, one per health plan: send one of them as
`resource=` at /authorize or /token to get a token for that plan's APIs.
"""

from __future__ import annotations

from typing import Any

from identity.keys import ASSERTION_ALGORITHMS
from identity.settings import Settings
from policy.names import Claim, Scope

SCOPES = [
    Scope.OPENID,
    Scope.PROFILE,
    Scope.EMAIL,
    Scope.OFFLINE_ACCESS,
    *Scope.API,
    Scope.ADMIN,
]
CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]


def provider_metadata(settings: Settings) -> dict[str, Any]:
    issuer = settings.issuer.rstrip("/")
    return {
        "issuer": settings.issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "introspection_endpoint": f"{issuer}/introspect",
        "revocation_endpoint": f"{issuer}/revoke",
        "end_session_endpoint": f"{issuer}/logout",
        "scopes_supported": SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "token_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGORITHMS,
        "introspection_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS[:3],
        "revocation_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "acr",
            "amr",
            Claim.SID,
            "preferred_username",
            "name",
            "given_name",
            "family_name",
            "email",
            Claim.ORG_ID,
            Claim.ORG_NAME,
            Claim.TAX_IDS,
            Claim.ROLES,
            Claim.ORGS,
        ],
        "prompt_values_supported": ["none", "login"],
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "authorization_response_iss_parameter_supported": False,
        "frontchannel_logout_supported": False,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "tinpass_resources": [
            {"resource": uri, "name": name} for uri, name in settings.resources.items()
        ],
    }
