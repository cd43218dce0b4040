"""Verifying RFC 9068 JWT access tokens against the issuer's cached keys.

Checks, each failing with its own description: the header's `alg` is on the
allow-list (never `none`, never an HMAC algorithm), `kid` present and known,
the key's type fits the algorithm, `typ` is `at+jwt` (RFC 9068 §4), the
signature, `iss` exactly, `aud` contains this resource server, `exp`/`nbf`/`iat`
with a small leeway, and the required claims are present.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import httpx
import orjson
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import Key

from policy.errors import InvalidToken
from policy.jwks import JWKSCache, JWKSUnavailable
from policy.principal import Principal

DEFAULT_ALGORITHMS = ("RS256", "RS384", "ES256", "ES384", "PS256")
KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC"}
REQUIRED = ("sub", "client_id", "exp", "iat", "jti")
ACCESS_TOKEN_TYPES = {"at+jwt", "application/at+jwt"}


def _invalid(description: str) -> InvalidToken:
    return InvalidToken("invalid_token", description)


class TokenVerifier:
    def __init__(
        self,
        issuer: str,
        audience: str,
        jwks_uri: str,
        *,
        algorithms: Sequence[str] = DEFAULT_ALGORITHMS,
        leeway: int = 30,
        refresh_interval: float = 300.0,
        min_refetch_interval: float = 30.0,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        """`refresh_interval`: how often the JWKS is refreshed on a schedule (started by
        `prime`); keep it shorter than the issuer's key publication lead time (identity:
        `key_publication_lead_seconds`) so every signing key is known before it signs.
        `min_refetch_interval`: at most one out-of-schedule refetch for an unknown `kid`
        per this many seconds (see `policy.jwks`)."""
        unsafe = [a for a in algorithms if a == "none" or a.startswith("HS")]
        if unsafe:
            raise ValueError(f"refusing unsafe algorithms {unsafe}")
        self.issuer = issuer
        self.audience = audience
        self.algorithms = tuple(algorithms)
        self.leeway = leeway
        self.jwks = JWKSCache(
            jwks_uri,
            refresh_interval=refresh_interval,
            min_refetch_interval=min_refetch_interval,
            http_client=http_client,
        )

    @property
    def jwks_loaded(self) -> bool:
        return self.jwks.loaded

    async def prime(self) -> None:
        """Load the keys and start their scheduled refresh (call once at startup)."""
        await self.jwks.prime()

    async def stop(self) -> None:
        """Stop the scheduled refresh `prime` started (for a verifier this app did not make)."""
        await self.jwks.stop()

    async def aclose(self) -> None:
        await self.jwks.aclose()

    async def verify(self, token: str) -> Principal:
        header = self._header(token)
        key = await self._key_for(header)
        try:
            verified = jws.deserialize_compact(token, key, algorithms=[header["alg"]])
        except JoseError as error:
            raise _invalid("token signature is not valid") from error
        try:
            claims = _json_object(verified.payload)
        except ValueError as error:
            raise _invalid("token content is not JSON") from error
        self._check_claims(claims)
        return Principal.from_claims(claims)

    def _header(self, token: str) -> dict[str, Any]:
        if token.count(".") != 2:
            raise _invalid("token is not a JWS in compact form")
        try:
            header = dict(jws.extract_compact(token.encode()).headers())
        except (JoseError, ValueError, UnicodeError) as error:
            raise _invalid("token header cannot be read") from error
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise _invalid(f"token algorithm {alg!r} is not accepted")
        if header.get("typ") not in ACCESS_TOKEN_TYPES:
            raise _invalid("token is not an access token (typ must be at+jwt)")
        if not isinstance(header.get("kid"), str):
            raise _invalid("token header has no key id (kid)")
        return header

    async def _key_for(self, header: dict[str, Any]) -> Key:
        try:
            key = await self.jwks.get(header["kid"])
        except JWKSUnavailable as error:
            raise _invalid("the issuer's signing keys cannot be loaded right now") from error
        if key is None:
            raise _invalid("token is signed by an unknown key")
        if key.key_type != KEY_TYPES.get(header["alg"][:2]):
            raise _invalid("token algorithm does not fit its key")
        return key

    def _check_claims(self, claims: dict[str, Any]) -> None:
        missing = [name for name in REQUIRED if name not in claims]
        if missing:
            raise _invalid(f"token lacks required claims: {', '.join(missing)}")
        if claims.get("iss") != self.issuer:
            raise _invalid("token is from another issuer")
        audience = claims.get("aud")
        audiences = [audience] if isinstance(audience, str) else audience or []
        if self.audience not in audiences:
            raise _invalid("token is for another audience")
        now = time.time()
        if not isinstance(claims["exp"], int | float) or claims["exp"] + self.leeway < now:
            raise _invalid("token expired")
        if isinstance(claims.get("nbf"), int | float) and claims["nbf"] - self.leeway > now:
            raise _invalid("token is not valid yet")
        if not isinstance(claims["iat"], int | float) or claims["iat"] - self.leeway > now:
            raise _invalid("token was issued in the future")


def _json_object(raw: bytes) -> dict[str, Any]:
    value = orjson.loads(raw)
    if not isinstance(value, dict):
        raise _invalid("token content is not a JSON object")
    return value
