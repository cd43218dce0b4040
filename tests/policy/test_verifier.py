"""Token verification (RFC 9068 §4) against a cached JWKS."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator

import anyio
import pytest
from joserfc.jwk import RSAKey

from policy import InvalidToken, TokenVerifier
from tests.support.tokens import AUDIENCE, ISSUER, JWKS_URI, TestIssuer


@pytest.fixture
def issuer() -> TestIssuer:
    return TestIssuer()


@pytest.fixture
async def verifier(issuer: TestIssuer) -> AsyncIterator[TokenVerifier]:
    async with issuer.http_client() as client:
        yield TokenVerifier(ISSUER, AUDIENCE, JWKS_URI, http_client=client, min_refetch_interval=30)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def refused(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(token)
    assert caught.value.error == "invalid_token"
    assert token not in caught.value.description
    return caught.value.description


async def test_valid_rs256_token_gives_the_principal(
    verifier: TokenVerifier, issuer: TestIssuer
) -> None:
    principal = await verifier.verify(issuer.mint(tax_ids=["12-3456789", "987654321"]))
    assert principal.subject == "user-1" and principal.client_id == "portal"
    assert principal.tax_ids == frozenset({"123456789", "987654321"})
    assert principal.scopes == frozenset({"openid", "eligibility:read", "claims:read"})
    assert principal.roles == frozenset({"subscriber", "billing"})
    assert principal.is_user


async def test_valid_es256_token(verifier: TokenVerifier, issuer: TestIssuer) -> None:
    assert (await verifier.verify(issuer.mint(issuer.ec))).org_id == "org-1"


async def test_no_network_call_after_the_first(verifier: TokenVerifier, issuer: TestIssuer) -> None:
    for _ in range(20):
        await verifier.verify(issuer.mint())
    assert issuer.fetches == 1


async def test_expired(verifier: TokenVerifier, issuer: TestIssuer) -> None:
    now = int(time.time())
    assert await refused(verifier, issuer.mint(exp=now - 120, iat=now - 600)) == "token expired"


async def test_small_clock_skew_is_tolerated(verifier: TokenVerifier, issuer: TestIssuer) -> None:
    await verifier.verify(issuer.mint(exp=int(time.time()) - 5))


async def test_not_yet_valid(verifier: TokenVerifier, issuer: TestIssuer) -> None:
    assert (
        await refused(verifier, issuer.mint(nbf=int(time.time()) + 600)) == "token is not valid yet"
    )


async def test_other_issuer(verifier: TokenVerifier, issuer: TestIssuer) -> None:
    assert (
        await refused(verifier, issuer.mint(iss="https://evil.example"))
        == "token is from another issuer"
    )


async def test_other_audience(verifier: TokenVerifier, issuer: TestIssuer) -> None:
    assert (
        await refused(verifier, issuer.mint(aud="another-api")) == "token is for another audience"
    )


async def test_audience_list_containing_ours(verifier: TokenVerifier, issuer: TestIssuer) -> None:
    await verifier.verify(issuer.mint(aud=["another-api", AUDIENCE]))


async def test_alg_none(verifier: TokenVerifier, issuer: TestIssuer) -> None:
    header = b64(json.dumps({"alg": "none", "typ": "at+jwt", "kid": "rsa-1"}).encode())
    payload = b64(json.dumps(issuer.claims()).encode())
    assert "not accepted" in await refused(verifier, f"{header}.{payload}.")


async def test_hs256_with_the_public_key_as_secret(
    verifier: TokenVerifier, issuer: TestIssuer
) -> None:
    secret = issuer.rsa.as_pem(private=False)
    header = b64(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": "rsa-1"}).encode())
    payload = b64(json.dumps(issuer.claims()).encode())
    signature = b64(hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    assert "not accepted" in await refused(verifier, f"{header}.{payload}.{signature}")


async def test_missing_typ(verifier: TokenVerifier, issuer: TestIssuer) -> None:
    assert "typ" in await refused(verifier, issuer.mint(header={"typ": None}))


async def test_id_token_typ_is_not_an_access_token(
    verifier: TokenVerifier, issuer: TestIssuer
) -> None:
    assert "typ" in await refused(verifier, issuer.mint(header={"typ": "JWT"}))


async def test_alg_that_does_not_fit_the_key(verifier: TokenVerifier, issuer: TestIssuer) -> None:
    token = issuer.mint(issuer.ec, header={"kid": "rsa-1"})
    assert await refused(verifier, token) in {
        "token algorithm does not fit its key",
        "token signature is not valid",
    }


async def test_tampered_payload(verifier: TokenVerifier, issuer: TestIssuer) -> None:
    header, _, signature = issuer.mint().split(".")
    forged = b64(json.dumps(issuer.claims(tax_ids=["444444444"])).encode())
    assert (
        await refused(verifier, f"{header}.{forged}.{signature}") == "token signature is not valid"
    )


async def test_missing_required_claims(verifier: TokenVerifier, issuer: TestIssuer) -> None:
    assert "jti" in await refused(verifier, issuer.mint(jti=None))


async def test_garbage(verifier: TokenVerifier) -> None:
    await refused(verifier, "not-a-token")
    await refused(verifier, "a.b.c")


async def test_unknown_kid_refetches_once_and_then_is_refused(
    verifier: TokenVerifier, issuer: TestIssuer
) -> None:
    await verifier.verify(issuer.mint())
    stranger = RSAKey.generate_key(2048, parameters={"kid": "stranger"})
    assert await refused(verifier, issuer.mint(stranger)) == "token is signed by an unknown key"
    assert await refused(verifier, issuer.mint(stranger)) == "token is signed by an unknown key"
    assert issuer.fetches == 1, "a refetch happens at most once per interval"


async def test_rotated_key_is_picked_up_by_one_refetch(issuer: TestIssuer) -> None:
    async with issuer.http_client() as client:
        verifier = TokenVerifier(
            ISSUER, AUDIENCE, JWKS_URI, http_client=client, min_refetch_interval=0
        )
        await verifier.verify(issuer.mint())
        rotated = RSAKey.generate_key(2048, parameters={"kid": "rsa-2"})
        issuer.published.append(rotated)
        principal = await verifier.verify(issuer.mint(rotated))
    assert principal.subject == "user-1"
    assert issuer.fetches == 2


async def test_concurrent_unknown_kids_share_one_fetch(issuer: TestIssuer) -> None:
    async with issuer.http_client() as client:
        verifier = TokenVerifier(
            ISSUER, AUDIENCE, JWKS_URI, http_client=client, min_refetch_interval=0
        )
        tokens = [issuer.mint() for _ in range(10)]

        async with anyio.create_task_group() as group:
            for token in tokens:
                group.start_soon(verifier.verify, token)
    assert issuer.fetches == 1


async def test_unreachable_jwks_is_an_invalid_token_not_a_crash(issuer: TestIssuer) -> None:
    async with issuer.http_client() as client:
        verifier = TokenVerifier(ISSUER, AUDIENCE, ISSUER + "/nowhere", http_client=client)
        assert "cannot be loaded" in await refused(verifier, issuer.mint())
        assert not verifier.jwks_loaded


def test_unsafe_algorithms_cannot_be_configured() -> None:
    with pytest.raises(ValueError):
        TokenVerifier(ISSUER, AUDIENCE, JWKS_URI, algorithms=["RS256", "HS256"])
    with pytest.raises(ValueError):
        TokenVerifier(ISSUER, AUDIENCE, JWKS_URI, algorithms=["none"])
