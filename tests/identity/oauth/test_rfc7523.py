"""private_key_jwt client authentication (RFC 7523, SMART Backend Services profile)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from sqlalchemy import select, update

from identity.models import AuditEvent, Client
from tests.identity.harness import ISSUER, IdentityHarness
from tests.support.oidc import jwt_claims

CLIENT = "acme-integrator"


def assertion(
    key: Any, alg: str, *, lifetime: int = 240, jti: str | None = None, aud: str = ISSUER + "/token"
) -> str:
    now = int(time.time())
    claims = {
        "iss": CLIENT,
        "sub": CLIENT,
        "aud": aud,
        "iat": now,
        "exp": now + lifetime,
        "jti": jti or str(uuid.uuid4()),
    }
    return jwt.encode({"alg": alg, "kid": key.kid}, claims, key, algorithms=[alg])


async def token_with(client: httpx.AsyncClient, signed: str) -> httpx.Response:
    return await client.post(
        "/token",
        data={
            "grant_type": "client_credentials",
            "scope": "claims:read eligibility:read",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": signed,
        },
    )


async def test_integrator_gets_a_token_for_its_own_tins(identity: IdentityHarness) -> None:
    key = RSAKey.import_key(identity.integrator_key())
    async with identity.client() as client:
        response = await token_with(client, assertion(key, "RS256"))
    assert response.status_code == 200, response.text
    access = jwt_claims(response.json()["access_token"])
    assert access["sub"] == CLIENT
    assert access["tax_ids"] == ["987654321"]


async def test_a_jti_seen_before_is_refused(identity: IdentityHarness) -> None:
    key = RSAKey.import_key(identity.integrator_key())
    jti = str(uuid.uuid4())
    async with identity.client() as client:
        first = await token_with(client, assertion(key, "RS256", jti=jti))
        second = await token_with(client, assertion(key, "RS256", jti=jti))
    assert first.status_code == 200
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_client"


async def test_a_replayed_assertion_is_audited_without_the_assertion(
    identity: IdentityHarness,
) -> None:
    key = RSAKey.import_key(identity.integrator_key())
    signed = assertion(key, "RS256")
    request_id = uuid.uuid4().hex
    async with identity.client(headers={"X-Request-ID": request_id}) as client:
        first = await token_with(client, signed)
        replay = await token_with(client, signed)
    async with identity.session() as session:
        events = list(
            await session.scalars(
                select(AuditEvent).where(
                    AuditEvent.event == "client.authentication_failed",
                    AuditEvent.request_id == request_id,
                )
            )
        )
    assert (first.status_code, replay.status_code) == (200, 400)
    assert len(events) == 1, "only the replay failed"
    assert events[0].details["reason"] == "assertion_replayed"
    assert events[0].details["client_id"] == CLIENT
    assert signed.split(".")[2] not in json.dumps(events[0].details)


async def test_an_assertion_valid_for_more_than_five_minutes_is_refused(
    identity: IdentityHarness,
) -> None:
    key = RSAKey.import_key(identity.integrator_key())
    async with identity.client() as client:
        response = await token_with(client, assertion(key, "RS256", lifetime=600))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client"
    assert "at most 300" in response.json()["error_description"]


async def test_an_assertion_for_another_audience_is_refused(identity: IdentityHarness) -> None:
    key = RSAKey.import_key(identity.integrator_key())
    async with identity.client() as client:
        response = await token_with(
            client, assertion(key, "RS256", aud="https://other.example/token")
        )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client"


async def test_an_assertion_signed_by_an_unregistered_key_is_refused(
    identity: IdentityHarness,
) -> None:
    stranger = RSAKey.generate_key(2048, parameters={"kid": "stranger"})
    async with identity.client() as client:
        response = await token_with(client, assertion(stranger, "RS256"))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize("alg", ["RS384", "ES256", "ES384"])
async def test_smart_algorithms_are_accepted(identity: IdentityHarness, alg: str) -> None:
    """Register one more key of the algorithm's type, then authenticate with it."""
    if alg.startswith("RS"):
        key: Any = RSAKey.generate_key(2048, parameters={"kid": f"k-{alg}", "alg": alg})
    else:
        key = ECKey.generate_key(
            "P-256" if alg == "ES256" else "P-384", parameters={"kid": f"k-{alg}", "alg": alg}
        )
    registered = {
        "keys": [
            RSAKey.import_key(identity.integrator_key()).as_dict(private=False),
            key.as_dict(private=False),
        ]
    }
    async with identity.session() as session:
        await session.execute(
            update(Client).where(Client.client_id == CLIENT).values(jwks=registered)
        )
        await session.commit()
    async with identity.client() as client:
        response = await token_with(client, assertion(key, alg))
    assert response.status_code == 200, response.text
