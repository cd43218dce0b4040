"""A test issuer: signing keys, a JWKS served over ASGI, and token minting.

Stands in for the identity service where a test is about a resource server
(policy, provider data, gateway): tokens are real RS256/ES256 JWTs and the JWKS
is fetched over a real ASGI transport, with a count of fetches.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

ISSUER = "https://id.tinpass.test"
# The plans' APIs as RFC 8707 resources (identity.settings.DEMO_RESOURCES): Cascade is the default.
AUDIENCE = "https://api.cascade.plans.example"
SUMMIT_AUDIENCE = "https://api.summit.plans.example"
JWKS_URI = ISSUER + "/.well-known/jwks.json"


def token_claims(**overrides: Any) -> dict[str, Any]:
    """The contract's access-token claims; an override of None removes a claim."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-1",
        "client_id": "portal",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
        "scope": "openid eligibility:read claims:read",
        "org_id": "org-1",
        "tax_ids": ["123456789"],
        "roles": ["subscriber", "billing"],
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


class TestIssuer:
    __test__ = False

    def __init__(self) -> None:
        self.rsa = RSAKey.generate_key(
            2048, parameters={"kid": "rsa-1", "alg": "RS256", "use": "sig"}
        )
        self.ec = ECKey.generate_key(
            "P-256", parameters={"kid": "ec-1", "alg": "ES256", "use": "sig"}
        )
        self.published: list[Any] = [self.rsa, self.ec]
        self.fetches = 0
        self.app = Starlette(routes=[Route("/.well-known/jwks.json", self._jwks)])

    async def _jwks(self, request: Request) -> JSONResponse:
        self.fetches += 1
        return JSONResponse({"keys": [k.as_dict(private=False) for k in self.published]})

    def http_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url=ISSUER)

    def claims(self, **overrides: Any) -> dict[str, Any]:
        return token_claims(**overrides)

    def mint(self, key: Any = None, header: dict[str, Any] | None = None, **claims: Any) -> str:
        key = key or self.rsa
        alg = "RS256" if isinstance(key, RSAKey) else "ES256"
        head = {"alg": alg, "kid": key.kid, "typ": "at+jwt", **(header or {})}
        head = {k: v for k, v in head.items() if v is not None}
        return jwt.encode(head, self.claims(**claims), key, algorithms=[head["alg"]])
