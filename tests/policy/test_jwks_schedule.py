"""The verifier's JWKS under key rotation, against identity's real JWKS endpoint over HTTP.

Identity publishes a key as `next` before it signs; the verifier refreshes its
key set on a schedule shorter than that lead, so a freshly rotated key is known
before the first token it signs arrives. Tokens with made-up key ids (their
signature cannot be checked) spend at most a bounded number of refetches and
never keep a valid token from being accepted.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from collections.abc import AsyncIterator, Mapping

import httpx
import pytest
from sqlalchemy import select

from identity.keys import rotate_keys
from identity.models import SigningKey
from policy import InvalidToken, TokenVerifier
from tests.identity.harness import IdentityHarness, running_identity
from tests.support.oidc import jwt_claims
from tests.support.servers import serve
from tests.support.tokens import AUDIENCE, ISSUER, JWKS_URI, TestIssuer

SCHEDULE = 0.1  # seconds between scheduled refreshes in these tests
ROTATIONS = 3


@pytest.fixture(scope="module")
async def identity(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[IdentityHarness]:
    # The tests wait for the verifier's schedule to learn each new `next` key before
    # they rotate again: that wait stands in for identity's publication lead time.
    async with running_identity(
        tmp_path_factory.mktemp("jwks"),
        key_cache_seconds=0,
        signing_alg="ES256",
        key_publication_lead_seconds=0,
    ) as harness:
        yield harness


@pytest.fixture
async def identity_url(identity: IdentityHarness) -> AsyncIterator[str]:
    async with serve(identity.app) as url:
        yield url


def made_up_kid_token() -> str:
    """An access token naming a key nobody published (its signature cannot be checked)."""

    def part(value: Mapping[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    header = {"alg": "ES256", "typ": "at+jwt", "kid": secrets.token_urlsafe(16)}
    return f"{part(header)}.{part({'sub': 'x'})}.{secrets.token_urlsafe(64)}"


async def access_token(http: httpx.AsyncClient, url: str, identity: IdentityHarness) -> str:
    response = await http.post(
        f"{url}/token",
        data={"grant_type": "client_credentials", "scope": "claims:read"},
        auth=("acme-curl", identity.credentials.curl_secret),
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def rotate(identity: IdentityHarness) -> str:
    """Rotate at identity; the kid of the new `next` key."""
    async with identity.session() as session:
        await rotate_keys(session, identity.settings)
        await session.commit()
        kid = await session.scalar(select(SigningKey.kid).where(SigningKey.status == "next"))
    assert kid is not None
    return str(kid)


async def known(verifier: TokenVerifier, kid: str) -> None:
    """Wait for the scheduled refresh to bring `kid` in (bounded, not a timing test)."""
    for _ in range(200):
        if kid in verifier.jwks.kids:
            return
        await asyncio.sleep(SCHEDULE / 2)
    raise AssertionError("the scheduled JWKS refresh never happened")


def verifier_for(
    identity: IdentityHarness, http: httpx.AsyncClient, url: str, audience: str, refetch: float
) -> TokenVerifier:
    return TokenVerifier(
        identity.settings.issuer,
        audience,
        f"{url}/.well-known/jwks.json",
        http_client=http,
        refresh_interval=SCHEDULE,
        min_refetch_interval=refetch,
    )


async def test_a_key_published_as_next_is_known_before_it_signs(
    identity: IdentityHarness, identity_url: str
) -> None:
    async with httpx.AsyncClient(timeout=5) as http:
        audience = str(jwt_claims(await access_token(http, identity_url, identity))["aud"])
        # No out-of-schedule refetch at all: only the schedule can teach it new keys.
        verifier = verifier_for(identity, http, identity_url, audience, refetch=3600)
        await verifier.prime()
        try:
            for _ in range(ROTATIONS):
                upcoming = await rotate(identity)
                await known(verifier, upcoming)
                await rotate(identity)  # `upcoming` signs from now on
                token = await access_token(http, identity_url, identity)
                assert (
                    json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))["kid"]
                    == upcoming
                )
                assert (await verifier.verify(token)).client_id == "acme-curl"
            assert verifier.jwks.refetch_count == 0
        finally:
            await verifier.aclose()


async def test_made_up_kids_do_not_keep_a_rotated_key_out(
    identity: IdentityHarness, identity_url: str
) -> None:
    async with httpx.AsyncClient(timeout=5) as http:
        audience = str(jwt_claims(await access_token(http, identity_url, identity))["aud"])
        verifier = verifier_for(identity, http, identity_url, audience, refetch=30)
        await verifier.prime()
        refused: list[str] = []
        flooding = True

        async def flood() -> None:
            while flooding:
                tokens = [made_up_kid_token() for _ in range(20)]
                results = await asyncio.gather(
                    *(verifier.verify(t) for t in tokens), return_exceptions=True
                )
                assert all(isinstance(r, InvalidToken) for r in results)
                refused.extend(str(r) for r in results)
                await asyncio.sleep(0)

        attacker = asyncio.create_task(flood())
        try:
            for _ in range(ROTATIONS):
                upcoming = await rotate(identity)
                await known(verifier, upcoming)
                await rotate(identity)
                token = await access_token(http, identity_url, identity)
                assert (await verifier.verify(token)).client_id == "acme-curl"
        finally:
            flooding = False
            await attacker
            await verifier.aclose()
    assert len(refused) >= 20
    assert all("unknown key" in r for r in refused)
    assert verifier.jwks.refetch_count <= 1, "made-up kids spent more than a small bound"


async def test_a_flood_of_unknown_kids_costs_one_refetch_per_interval() -> None:
    issuer = TestIssuer()
    async with issuer.http_client() as client:
        verifier = TokenVerifier(
            ISSUER,
            AUDIENCE,
            JWKS_URI,
            http_client=client,
            refresh_interval=3600,
            min_refetch_interval=BUDGET,
        )
        await verifier.prime()
        try:
            await asyncio.sleep(BUDGET * 1.5)  # the refetch budget is open again
            flood = [verifier.verify(made_up_kid_token()) for _ in range(400)]
            results = await asyncio.gather(*flood, return_exceptions=True)
            assert (await verifier.verify(issuer.mint(issuer.ec))).subject == "user-1"
        finally:
            await verifier.aclose()
    assert all(isinstance(r, InvalidToken) for r in results)
    assert issuer.fetches == 2, "the prime, then one shared refetch for 400 made-up kids"
    assert verifier.jwks.refetch_count == 1


BUDGET = 0.3
