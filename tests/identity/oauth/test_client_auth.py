"""Client authentication methods, and identity's tokens checked by libs/policy."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import pytest
from joserfc import jws
from sqlalchemy import select

from identity import admin_ops
from identity.models import AuditEvent
from identity.settings import CASCADE_RESOURCE
from policy import TokenVerifier
from tests.identity.flows import portal_tokens
from tests.identity.harness import ISSUER, IdentityHarness, running_identity


async def post_client_secret(identity: IdentityHarness) -> str:
    async with identity.session() as session:
        _, secret = await admin_ops.create_client(
            session,
            identity.settings,
            "post-client",
            "Posts its secret",
            kind="confidential",
            grant_types=["client_credentials"],
            scope="claims:read",
            auth_method="client_secret_post",
        )
        await session.commit()
    assert secret is not None
    return secret


async def test_client_secret_post(identity: IdentityHarness) -> None:
    secret = await post_client_secret(identity)
    async with identity.client() as client:
        ok = await client.post(
            "/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "post-client",
                "client_secret": secret,
            },
        )
        as_basic = await client.post(
            "/token", data={"grant_type": "client_credentials"}, auth=("post-client", secret)
        )
    assert ok.status_code == 200, ok.text
    assert as_basic.status_code == 401, "a client uses only the method it registered"
    assert as_basic.json()["error"] == "invalid_client"


async def test_unknown_client_is_invalid_client(identity: IdentityHarness) -> None:
    async with identity.client() as client:
        response = await client.post(
            "/token", data={"grant_type": "client_credentials"}, auth=("nobody", "x")
        )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_unsupported_grant_type(identity: IdentityHarness) -> None:
    async with identity.client() as client:
        response = await client.post(
            "/token",
            data={"grant_type": "password", "username": "sam.biller", "password": "x"},
            auth=("acme-curl", identity.credentials.curl_secret),
        )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


async def test_identity_tokens_pass_the_policy_verifier(identity: IdentityHarness) -> None:
    tokens = await portal_tokens(identity, "sam.biller")
    async with identity.client() as http:
        verifier = TokenVerifier(
            ISSUER, CASCADE_RESOURCE, ISSUER + "/.well-known/jwks.json", http_client=http
        )
        principal = await verifier.verify(tokens["access_token"])
    assert principal.tax_ids == frozenset({"123456789"}) and principal.is_user


@pytest.fixture(scope="module")
async def es256_identity(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[IdentityHarness]:
    async with running_identity(tmp_path_factory.mktemp("es256"), signing_alg="ES256") as harness:
        yield harness


async def test_es256_signing(es256_identity: IdentityHarness) -> None:
    tokens = await portal_tokens(es256_identity, "sam.biller")
    async with es256_identity.client() as http:
        verifier = TokenVerifier(
            ISSUER, CASCADE_RESOURCE, ISSUER + "/.well-known/jwks.json", http_client=http
        )
        principal = await verifier.verify(tokens["access_token"])
    assert principal.subject
    assert jws.extract_compact(tokens["access_token"].encode()).headers()["alg"] == "ES256"
    assert jws.extract_compact(tokens["id_token"].encode()).headers()["alg"] == "ES256"


async def failed_authentications(identity: IdentityHarness, request_id: str) -> list[AuditEvent]:
    async with identity.session() as session:
        rows = await session.scalars(
            select(AuditEvent).where(
                AuditEvent.event == "client.authentication_failed",
                AuditEvent.request_id == request_id,
            )
        )
        return list(rows)


@pytest.mark.parametrize(
    ("path", "auth", "client_id", "reason"),
    [
        ("/token", ("acme-curl", "wrong-secret-1234"), "acme-curl", "invalid_secret"),
        ("/token", ("nobody", "wrong-secret-1234"), "nobody", "unknown_client"),
        ("/introspect", ("acme-curl", "wrong-secret-1234"), "acme-curl", "invalid_secret"),
        ("/revoke", ("acme-curl", "wrong-secret-1234"), "acme-curl", "invalid_secret"),
    ],
)
async def test_failed_client_authentication_is_audited_without_the_secret(
    identity: IdentityHarness, path: str, auth: tuple[str, str], client_id: str, reason: str
) -> None:
    request_id = uuid.uuid4().hex
    data = {"grant_type": "client_credentials", "token": "x"}
    async with identity.client() as client:
        response = await client.post(
            path, data=data, auth=auth, headers={"X-Request-ID": request_id}
        )
    events = await failed_authentications(identity, request_id)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    assert len(events) == 1
    event = events[0]
    assert event.outcome == "failure" and event.details["reason"] == reason
    assert event.details["client_id"] == client_id == event.actor_id
    assert "wrong-secret-1234" not in json.dumps(event.details)
