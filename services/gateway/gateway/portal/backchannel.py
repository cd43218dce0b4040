"""OpenID Connect Back-Channel Logout 1.0, the relying party's side (§2.6).

Identity POSTs a signed logout token when an SSO session ends. The token is
checked against the issuer's keys from libs/policy's JWKS cache (no network call
unless the key id is new): an accepted algorithm and `typ: logout+jwt`, the
signature, `iss`, `aud` naming this portal's client, `iat` recent, `exp` when
present, the back-channel logout event in `events`, a `sid` or `sub`, no `nonce`,
and a `jti` not seen before. The portal then ends its sessions for that `sid`
(or, without one, every session of that `sub`).

The `jti`s seen are kept in this process, in order of arrival, while a token bearing
them could still be accepted (`MAX_AGE` + `LEEWAY` after arrival), and `MAX_SEEN` at
most (the oldest go first): each logout drops the expired ones from the front, O(1)
per logout. Another worker or replica does not know them; a logout token replayed
there ends the same sessions again, which changes nothing.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError

from policy import JWKSCache, JWKSUnavailable
from policy.names import Claim

EVENT = "http://schemas.openid.net/event/backchannel-logout"
ALGORITHMS = ("RS256", "RS384", "ES256", "ES384", "PS256")
KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC"}
TYPES = {"logout+jwt", "application/logout+jwt"}
MAX_AGE = 300
LEEWAY = 30
MAX_SEEN = 10_000


class InvalidLogoutToken(Exception):
    """The logout token is not acceptable; the message says why."""


@dataclass(frozen=True)
class LogoutRequest:
    sid: str | None
    sub: str | None


class LogoutTokenVerifier:
    def __init__(
        self,
        jwks: JWKSCache,
        issuer: str,
        client_id: str,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.jwks, self.issuer, self.client_id = jwks, issuer, client_id
        self.clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()  # jti -> arrival, oldest first

    async def verify(self, token: str) -> LogoutRequest:
        header = _header(token)
        try:
            key = await self.jwks.get(header["kid"])
        except JWKSUnavailable as error:
            raise InvalidLogoutToken("the issuer's keys cannot be loaded") from error
        if key is None or key.key_type != KEY_TYPES.get(header["alg"][:2]):
            raise InvalidLogoutToken("the token is signed by an unknown key")
        try:
            payload = jws.deserialize_compact(token, key, algorithms=[header["alg"]]).payload
            claims = json.loads(payload)
        except (JoseError, ValueError) as error:
            raise InvalidLogoutToken("the token's signature is not valid") from error
        if not isinstance(claims, dict):
            raise InvalidLogoutToken("the token's content is not a JSON object")
        request = self._check(claims)
        self._remember(str(claims["jti"]))
        return request

    def _check(self, claims: dict[str, Any]) -> LogoutRequest:
        if claims.get("iss") != self.issuer:
            raise InvalidLogoutToken("the token is from another issuer")
        audience = claims.get("aud")
        if self.client_id not in ([audience] if isinstance(audience, str) else audience or []):
            raise InvalidLogoutToken("the token is for another client")
        _check_times(claims)
        events = claims.get("events")
        if not isinstance(events, dict) or not isinstance(events.get(EVENT), dict):
            raise InvalidLogoutToken("the token lacks the back-channel logout event")
        if "nonce" in claims:
            raise InvalidLogoutToken("a logout token must not contain a nonce")
        sid, sub = claims.get(Claim.SID), claims.get("sub")
        if not isinstance(sid, str) and not isinstance(sub, str):
            raise InvalidLogoutToken("the token names neither a session (sid) nor a subject")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise InvalidLogoutToken("the token has no jti")
        if jti in self._seen:
            raise InvalidLogoutToken("the token was already used")
        return LogoutRequest(
            sid if isinstance(sid, str) else None, sub if isinstance(sub, str) else None
        )

    def _remember(self, jti: str) -> None:
        now = self.clock()
        while self._seen and (
            len(self._seen) >= MAX_SEEN or next(iter(self._seen.values())) < now - MAX_AGE - LEEWAY
        ):
            self._seen.popitem(last=False)
        self._seen[jti] = now


def _header(token: str) -> dict[str, Any]:
    if token.count(".") != 2:
        raise InvalidLogoutToken("the logout token is not a JWS in compact form")
    try:
        header = dict(jws.extract_compact(token.encode()).headers())
    except (JoseError, ValueError, UnicodeError) as error:
        raise InvalidLogoutToken("the token's header cannot be read") from error
    if header.get("alg") not in ALGORITHMS:
        raise InvalidLogoutToken("the token's algorithm is not accepted")
    if header.get("typ") not in TYPES:
        raise InvalidLogoutToken("the token is not a logout token (typ must be logout+jwt)")
    if not isinstance(header.get("kid"), str):
        raise InvalidLogoutToken("the token's header has no key id")
    return header


def _check_times(claims: dict[str, Any]) -> None:
    now = time.time()
    issued = claims.get("iat")
    if not isinstance(issued, int | float):
        raise InvalidLogoutToken("the token has no iat")
    if issued - LEEWAY > now:
        raise InvalidLogoutToken("the token was issued in the future")
    if now - issued > MAX_AGE:
        raise InvalidLogoutToken("the token is too old")
    expires = claims.get("exp")
    if expires is not None and (not isinstance(expires, int | float) or expires + LEEWAY < now):
        raise InvalidLogoutToken("the token expired")
