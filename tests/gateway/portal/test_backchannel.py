"""Back-channel logout at the portal: only a valid logout token ends sessions, by sid."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from gateway.portal.backchannel import EVENT
from tests.gateway.portal.conftest import CLIENT_ID, Portal
from tests.support.tokens import ISSUER, TestIssuer


def logout_token(
    issuer: TestIssuer, key: Any = None, header: dict[str, Any] | None = None, **overrides: Any
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 120,
        "jti": str(uuid.uuid4()),
        "sub": "user-1",
        "sid": "sso-a",
        "events": {EVENT: {}},
        **overrides,
    }
    claims = {k: v for k, v in claims.items() if v is not None}
    key = key or issuer.rsa
    head = {"alg": "RS256", "kid": key.kid, "typ": "logout+jwt", **(header or {})}
    return jwt.encode(head, claims, key, algorithms=["RS256"])


async def signed_in(portal: Portal, session_id: str, sid: str, sub: str = "user-1") -> None:
    await portal.sessions.save(session_id, {"sid": sid, "sub": sub, "user": {"username": sub}})


async def post(portal: Portal, token: str) -> Any:
    return await portal.client.post("/portal/backchannel-logout", data={"logout_token": token})


async def test_a_valid_logout_token_ends_the_sessions_of_that_sso_session(portal: Portal) -> None:
    await signed_in(portal, "browser-1", "sso-a")
    await signed_in(portal, "browser-2", "sso-b")
    response = await post(portal, logout_token(portal.issuer))
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert await portal.sessions.load("browser-1") is None
    assert await portal.sessions.load("browser-2") is not None


async def test_a_token_without_sid_ends_every_session_of_the_subject(portal: Portal) -> None:
    await signed_in(portal, "browser-1", "sso-a", "user-1")
    await signed_in(portal, "browser-2", "sso-b", "user-1")
    await signed_in(portal, "browser-3", "sso-c", "user-2")
    response = await post(portal, logout_token(portal.issuer, sid=None))
    assert response.status_code == 200
    assert await portal.sessions.load("browser-1") is None
    assert await portal.sessions.load("browser-2") is None
    assert await portal.sessions.load("browser-3") is not None


async def test_a_replayed_logout_token_is_refused(portal: Portal) -> None:
    token = logout_token(portal.issuer)
    assert (await post(portal, token)).status_code == 200
    again = await post(portal, token)
    assert again.status_code == 400
    assert again.json()["error_description"] == "the token was already used"


# Times (iat, exp) are seconds from the moment the test runs, not from collection:
# a long suite run must not age the tokens of the later cases.
TIMES = ("iat", "exp")
BAD: dict[str, tuple[dict[str, Any], dict[str, Any], str]] = {
    "another issuer": ({"iss": "https://evil.test"}, {}, "another issuer"),
    "another client": ({"aud": "summit-portal"}, {}, "another client"),
    "no events claim": ({"events": None}, {}, "back-channel logout event"),
    "another event": ({"events": {"urn:other": {}}}, {}, "back-channel logout event"),
    "a nonce": ({"nonce": "n-1"}, {}, "must not contain a nonce"),
    "neither sid nor sub": ({"sid": None, "sub": None}, {}, "neither a session"),
    "too old": ({"iat": -3600, "exp": None}, {}, "too old"),
    "from the future": ({"iat": 3600}, {}, "in the future"),
    "expired": ({"iat": -200, "exp": -100}, {}, "expired"),
    "no jti": ({"jti": None}, {}, "no jti"),
    "an access token": ({}, {"typ": "at+jwt"}, "not a logout token"),
    "no key id": ({}, {"kid": None}, "no key id"),
    "an unknown key": ({}, {"kid": "nobody"}, "unknown key"),
}


@pytest.mark.parametrize("case", sorted(BAD))
async def test_an_unacceptable_logout_token_ends_nothing(portal: Portal, case: str) -> None:
    claims, header, reason = BAD[case]
    now = int(time.time())
    claims = {k: now + v if k in TIMES and v is not None else v for k, v in claims.items()}
    await signed_in(portal, "browser-1", "sso-a")
    token = _mint(portal.issuer, {"kid": portal.issuer.rsa.kid, **header}, claims)
    response = await post(portal, token)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert reason in response.json()["error_description"]
    assert await portal.sessions.load("browser-1") is not None


def _mint(issuer: TestIssuer, header: dict[str, Any], claims: dict[str, Any]) -> str:
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 120,
        "jti": str(uuid.uuid4()),
        "sub": "user-1",
        "sid": "sso-a",
        "events": {EVENT: {}},
        **claims,
    }
    head = {"alg": "RS256", "typ": "logout+jwt", **header}
    return jwt.encode(
        {k: v for k, v in head.items() if v is not None},
        {k: v for k, v in body.items() if v is not None},
        issuer.rsa,
        algorithms=["RS256"],
    )


async def test_a_token_signed_by_another_key_under_a_known_kid_is_refused(
    portal: Portal,
) -> None:
    await signed_in(portal, "browser-1", "sso-a")
    forger = RSAKey.generate_key(2048, parameters={"kid": str(portal.issuer.rsa.kid)})
    response = await post(portal, logout_token(portal.issuer, key=forger))
    assert response.status_code == 400
    assert "signature" in response.json()["error_description"]
    assert await portal.sessions.load("browser-1") is not None


async def test_a_request_without_a_logout_token_is_refused(portal: Portal) -> None:
    response = await portal.client.post("/portal/backchannel-logout", data={})
    assert response.status_code == 400
    assert "missing" in response.json()["error_description"]
