"""RFC 7523 §2.2 / §3: `private_key_jwt` client authentication.

Profiled as SMART Backend Services asks: assertions signed with RS256, RS384,
ES256 or ES384 by a key from the client's registered JWKS; `iss` and `sub` are
the client id, `aud` is the token endpoint (or the issuer), `jti` is single-use,
and an assertion may live at most five minutes.
"""

from __future__ import annotations

import time
from typing import Any

from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from identity.keys import ASSERTION_ALGORITHMS, key_set
from identity.oauth.bridge import current, on_loop
from identity.store.snapshots import ClientInfo


class PrivateKeyJWT(JWTBearerClientAssertion):
    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, issuer: str, max_lifetime: int) -> None:
        super().__init__(validate_jti=True, leeway=30)
        self.issuer = issuer.rstrip("/")
        self.max_lifetime = max_lifetime

    def get_audiences(self) -> list[str]:
        return [self.issuer + "/token", self.issuer]

    def resolve_client_public_key(self, client: ClientInfo) -> KeySet:
        if not client.jwks:
            raise InvalidClientError(description="The client has no registered public keys.")
        return key_set(client.jwks)

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> dict[str, Any]:
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=ASSERTION_ALGORITHMS)
        except JoseError as error:
            raise InvalidClientError(description="The client assertion is not valid.") from error
        except ValueError as error:
            raise InvalidClientError(
                description="No registered key matches the assertion."
            ) from error
        claims = dict(token.claims)
        self.check_lifetime(claims)
        self.verify_claims(token.claims)
        return claims

    def check_lifetime(self, claims: dict[str, Any]) -> None:
        exp, iat = claims.get("exp"), claims.get("iat")
        if not isinstance(exp, int):
            raise InvalidClientError(description="The client assertion needs an 'exp' claim.")
        too_long = exp - int(time.time()) > self.max_lifetime or (
            isinstance(iat, int) and exp - iat > self.max_lifetime
        )
        if too_long:
            raise InvalidClientError(
                description=f"The client assertion may be valid for at most {self.max_lifetime} s."
            )

    def validate_jti(self, claims: dict[str, Any], jti: str) -> bool:
        return bool(on_loop(current().store.remember_assertion, claims["sub"], jti, claims["exp"]))
