"""Integrator clients managed by an organization's administrators: created with a
subset of the organization's TINs, a secret shown once and stored as a keyed digest,
rotation, public keys for private_key_jwt (private and symmetric keys refused),
TIN changes in the next token, deletion revoking what the client was issued."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from identity import audit
from identity.local_tokens import verify_access_token
from identity.models import AuditEvent, Client
from identity.security import client_secret_digest
from identity.settings import CASCADE_RESOURCE
from identity.store import OAuthStore
from policy import InvalidToken
from tests.identity.admin_flows import (
    EVIDENCE,
    admin_token,
    bearer,
    operator_decides,
    org_id_of,
    user_id_of,
)
from tests.identity.harness import ISSUER, IdentityHarness
from tests.support.oidc import jwt_claims

EVERGREEN = "Evergreen Family Clinic"
API_SCOPE = "eligibility:read claims:read claims:write"
ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


async def admin_api(identity: IdentityHarness) -> tuple[httpx.AsyncClient, str]:
    token = await admin_token(identity, "ever.admin")
    org = await org_id_of(identity, EVERGREEN)
    return identity.client(headers=bearer(token)), f"/api/v1/organizations/{org}/clients"


async def create(identity: IdentityHarness, **body: Any) -> dict[str, Any]:
    api, clients = await admin_api(identity)
    async with api:
        response = await api.post(clients, json={"name": "Nightly batch", **body})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    if "client_secret" in created:
        assert response.headers["cache-control"] == "no-store", "a secret is never cached"
    return created


async def secret_token(identity: IdentityHarness, client_id: str, secret: str) -> httpx.Response:
    async with identity.client() as client:
        return await client.post(
            "/token",
            data={"grant_type": "client_credentials", "scope": API_SCOPE},
            auth=(client_id, secret),
        )


def assertion(key: Any, alg: str, client_id: str) -> str:
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": ISSUER + "/token",
        "iat": now,
        "exp": now + 120,
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode({"alg": alg, "kid": key.kid}, claims, key, algorithms=[alg])


async def key_token(identity: IdentityHarness, signed: str) -> httpx.Response:
    async with identity.client() as client:
        return await client.post(
            "/token",
            data={
                "grant_type": "client_credentials",
                "scope": API_SCOPE,
                "client_assertion_type": ASSERTION,
                "client_assertion": signed,
            },
        )


def public(key: RSAKey | ECKey, alg: str) -> dict[str, Any]:
    return {**key.as_dict(private=False), "kid": key.kid, "alg": alg, "use": "sig"}


def signing_key(kind: str) -> RSAKey | ECKey:
    key = (
        RSAKey.generate_key(2048, private=True)
        if kind == "RSA"
        else ECKey.generate_key("P-256", private=True)
    )
    return type(key).import_key({**key.as_dict(private=True), "kid": key.thumbprint()})


async def events(identity: IdentityHarness, event: str, target: str) -> list[AuditEvent]:
    async with identity.session() as session:
        await audit.seal(session)  # the chain orders them (the app's sealer may lag)
        rows = await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.event == event, AuditEvent.target_id == target)
            .order_by(AuditEvent.seq)
        )
        return list(rows)


async def test_a_new_client_gets_tokens_for_exactly_its_tins(identity: IdentityHarness) -> None:
    created = await create(identity, tax_ids=["12-3456789"])
    client_id, secret = created["client_id"], created["client_secret"]
    assert created["tax_ids"] == ["12-3456789"]
    assert created["token_endpoint_auth_method"] == "client_secret_basic"
    assert created["grant_types"] == ["client_credentials"] and created["scope"] == API_SCOPE

    response = await secret_token(identity, client_id, secret)
    assert response.status_code == 200, response.text
    claims = jwt_claims(response.json()["access_token"])
    assert claims["sub"] == client_id and claims["client_id"] == client_id
    assert claims["tax_ids"] == ["123456789"]
    assert claims["org_id"] == await org_id_of(identity, EVERGREEN)
    assert set(claims["scope"].split()) == set(API_SCOPE.split())

    api, clients = await admin_api(identity)
    async with api:
        listed = await api.get(clients)
        shown = await api.get(f"{clients}/{client_id}")
    assert shown.status_code == 200 and "client_secret" not in shown.json()
    assert shown.json()["tax_ids"] == ["12-3456789"]
    ids = [c["client_id"] for c in listed.json()["clients"]]
    assert client_id in ids and "acme-curl" in ids
    assert "cascade-portal" not in ids and "tinpass-console" not in ids, "sign-in apps not listed"
    async with identity.session() as session:
        row = await session.get(Client, client_id)
        trail = json.dumps([e.details for e in await session.scalars(select(AuditEvent))])
    assert row is not None and row.organization_id == claims["org_id"]
    assert row.secret_digest == client_secret_digest(secret, identity.settings.client_secret_pepper)
    assert secret not in trail, "the secret is never written to the audit trail"
    [event] = await events(identity, "client.created", client_id)
    assert event.actor_id == await user_id_of(identity, "ever.admin") and event.request_id
    assert event.details["after"]["tax_ids"] == ["12-3456789"]


async def test_rotating_the_secret_retires_the_old_one(identity: IdentityHarness) -> None:
    created = await create(identity, tax_ids=["98-7654321"])
    client_id, old = created["client_id"], created["client_secret"]
    api, clients = await admin_api(identity)
    async with api:
        rotated = await api.post(f"{clients}/{client_id}/secret")
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["client_secret"]
    assert rotated.headers["cache-control"] == "no-store"
    assert new != old

    refused = await secret_token(identity, client_id, old)
    accepted = await secret_token(identity, client_id, new)
    assert refused.status_code in (400, 401) and refused.json()["error"] == "invalid_client"
    assert accepted.status_code == 200, accepted.text
    assert jwt_claims(accepted.json()["access_token"])["tax_ids"] == ["987654321"]
    [event] = await events(identity, "client.secret_rotated", client_id)
    assert old not in json.dumps(event.details) and new not in json.dumps(event.details)


@pytest.mark.parametrize(("kind", "alg"), [("RSA", "RS256"), ("EC", "ES256")])
async def test_registered_keys_authenticate_with_private_key_jwt(
    identity: IdentityHarness, kind: str, alg: str
) -> None:
    created = await create(identity, tax_ids=["12-3456789", "98-7654321"])
    client_id, secret = created["client_id"], created["client_secret"]
    key = signing_key(kind)
    api, clients = await admin_api(identity)
    async with api:
        registered = await api.put(f"{clients}/{client_id}/jwks", json={"keys": [public(key, alg)]})
    assert registered.status_code == 200, registered.text
    assert registered.json()["token_endpoint_auth_method"] == "private_key_jwt"
    assert registered.json()["key_ids"] == [key.kid]

    response = await key_token(identity, assertion(key, alg, client_id))
    assert response.status_code == 200, response.text
    assert jwt_claims(response.json()["access_token"])["tax_ids"] == ["123456789", "987654321"]
    with_secret = await secret_token(identity, client_id, secret)
    assert with_secret.json()["error"] == "invalid_client", "one credential at a time"
    stranger = signing_key(kind)
    forged = await key_token(identity, assertion(stranger, alg, client_id))
    assert forged.json()["error"] == "invalid_client"
    [event] = await events(identity, "client.keys_registered", client_id)
    assert event.details["after"]["key_ids"] == [key.kid]


async def test_a_client_created_with_keys_has_no_secret(identity: IdentityHarness) -> None:
    key = signing_key("EC")
    created = await create(identity, tax_ids=["98-7654321"], jwks={"keys": [public(key, "ES256")]})
    assert "client_secret" not in created
    assert created["token_endpoint_auth_method"] == "private_key_jwt"
    response = await key_token(identity, assertion(key, "ES256", created["client_id"]))
    assert response.status_code == 200, response.text
    async with identity.session() as session:
        row = await session.get(Client, created["client_id"])
    assert row is not None and row.secret_digest is None and row.jwks is not None
    assert "d" not in row.jwks["keys"][0]


def b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def rsa_1024() -> rsa.RSAPublicNumbers:
    return rsa.generate_private_key(65537, 1024).public_key().public_numbers()


def _rsa_private() -> dict[str, Any]:
    key = signing_key("RSA")
    return {**key.as_dict(private=True), "kid": "leaked", "alg": "RS256"}


REFUSED = {
    "private RSA key": ({"keys": [_rsa_private()]}, "private key material (d, dp, dq, p, q, qi)"),
    "HMAC key": ({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "h"}]}, "symmetric (HMAC)"),
    "alg none": ({"keys": [{"kty": "RSA", "alg": "none", "kid": "n"}]}, "alg none"),
    "alg HS256": ({"keys": [{"kty": "RSA", "alg": "HS256", "kid": "n"}]}, "alg HS256"),
    "no keys": ({"keys": []}, "non-empty"),
    "no kid": (
        {"keys": [{k: v for k, v in public(signing_key("EC"), "ES256").items() if k != "kid"}]},
        "needs a kid",
    ),
    "weak RSA": (
        {"keys": [{"kty": "RSA", "kid": "w", "n": b64(rsa_1024().n), "e": "AQAB"}]},
        "shorter than 2048 bits",
    ),
    "other curve": (
        {"keys": [{**ECKey.generate_key("P-521").as_dict(private=False), "kid": "c"}]},
        "curve P-521",
    ),
    "not a key": (
        {"keys": [{"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA", "kid": "x"}]},
        "not a valid EC",
    ),
    "duplicate kid": (
        {"keys": [public(signing_key("EC"), "ES256") | {"kid": "same"}] * 2},
        "share one",
    ),
}


async def test_private_symmetric_and_unusable_keys_are_refused(identity: IdentityHarness) -> None:
    created = await create(identity, tax_ids=["12-3456789"])
    client_id = created["client_id"]
    api, clients = await admin_api(identity)
    async with api:
        answers = {
            name: await api.put(f"{clients}/{client_id}/jwks", json=document)
            for name, (document, _) in REFUSED.items()
        }
        at_creation = await api.post(
            clients, json={"name": "Leaky", "jwks": REFUSED["private RSA key"][0]}
        )
        after = await api.get(f"{clients}/{client_id}")
    for name, response in answers.items():
        assert response.status_code == 422, (name, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert body["type"].endswith("/invalid-jwks"), name
        assert REFUSED[name][1] in body["detail"], (name, body["detail"])
    assert at_creation.status_code == 422 and "private key material" in at_creation.json()["detail"]
    assert after.json()["token_endpoint_auth_method"] == "client_secret_basic"
    assert (await secret_token(identity, client_id, created["client_secret"])).status_code == 200
    assert await events(identity, "client.keys_registered", client_id) == []


async def test_changed_tins_show_in_the_next_token(identity: IdentityHarness) -> None:
    created = await create(identity, tax_ids=["12-3456789", "98-7654321"])
    client_id, secret = created["client_id"], created["client_secret"]
    first = await secret_token(identity, client_id, secret)
    assert jwt_claims(first.json()["access_token"])["tax_ids"] == ["123456789", "987654321"]
    api, clients = await admin_api(identity)
    async with api:
        changed = await api.patch(
            f"{clients}/{client_id}", json={"tax_ids": ["98-7654321"], "name": "Claims sync"}
        )
    assert changed.status_code == 200, changed.text
    assert changed.json()["tax_ids"] == ["98-7654321"] and changed.json()["name"] == "Claims sync"
    second = await secret_token(identity, client_id, secret)
    assert jwt_claims(second.json()["access_token"])["tax_ids"] == ["987654321"]
    [event] = await events(identity, "client.changed", client_id)
    assert event.details["before"]["tax_ids"] == ["12-3456789", "98-7654321"]
    assert event.details["after"]["tax_ids"] == ["98-7654321"]


async def test_tins_outside_the_organization_are_refused(identity: IdentityHarness) -> None:
    api, clients = await admin_api(identity)
    async with identity.session() as session:
        before = await session.scalar(select(func.count()).select_from(Client))
    async with api:
        foreign = await api.post(clients, json={"name": "Grab", "tax_ids": ["55-5000111"]})
        malformed = await api.post(clients, json={"name": "Typo", "tax_ids": ["12-34"]})
        changed = await api.patch(f"{clients}/acme-curl", json={"tax_ids": ["55-5000111"]})
        nameless = await api.post(clients, json={"name": "  ", "tax_ids": []})
    for response in (foreign, malformed, changed):
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["field"] == "tax_ids"
        assert "are not your organization's" in response.json()["detail"]
    assert "55-5000111" in foreign.json()["detail"]
    assert nameless.status_code == 422 and nameless.json()["field"] == "name"
    async with identity.session() as session:
        after = await session.scalar(select(func.count()).select_from(Client))
        curl = await session.scalar(
            select(Client)
            .options(selectinload(Client.tax_ids))
            .where(Client.client_id == "acme-curl")
        )
    assert after == before, "nothing was created"
    assert curl is not None and sorted(t.tin for t in curl.tax_ids) == ["123456789", "987654321"]


async def test_a_sub_organizations_tin_can_be_granted_once_verified(
    identity: IdentityHarness,
) -> None:
    api, clients = await admin_api(identity)
    org = clients.removesuffix("/clients")
    async with api:
        child = await api.post(f"{org}/sub-organizations", json={"name": "Evergreen Lab"})
        child_id = child.json()["id"]
        added = await api.post(
            f"/api/v1/organizations/{child_id}/tax-ids", json={"tin": "77-1234567", **EVIDENCE}
        )
        early = await api.post(clients, json={"name": "Lab feed", "tax_ids": ["77-1234567"]})
        await operator_decides(identity, child_id, "771234567")
        created = await api.post(clients, json={"name": "Lab feed", "tax_ids": ["77-1234567"]})
    assert added.status_code == 202, added.text
    assert early.status_code == 422, "a TIN waiting for verification is granted to no client"
    assert created.status_code == 201, created.text
    body = created.json()
    token = await secret_token(identity, body["client_id"], body["client_secret"])
    assert jwt_claims(token.json()["access_token"])["tax_ids"] == ["771234567"]


async def test_a_sub_organization_inherits_its_parents_verified_tins(
    identity: IdentityHarness,
) -> None:
    """Without any review: the parent's TINs are verified already."""
    api, clients = await admin_api(identity)
    org = clients.removesuffix("/clients")
    async with api:
        child = await api.post(f"{org}/sub-organizations", json={"name": "Evergreen Annex"})
        child_clients = f"/api/v1/organizations/{child.json()['id']}/clients"
        created = await api.post(child_clients, json={"name": "Annex", "tax_ids": ["12-3456789"]})
        foreign = await api.post(child_clients, json={"name": "X", "tax_ids": ["55-5000111"]})
    assert created.status_code == 201, created.text
    assert foreign.status_code == 422, "only the organization's own tree's TINs"
    body = created.json()
    token = await secret_token(identity, body["client_id"], body["client_secret"])
    assert jwt_claims(token.json()["access_token"])["tax_ids"] == ["123456789"]


async def test_sign_in_applications_are_not_managed_here(identity: IdentityHarness) -> None:
    api, clients = await admin_api(identity)
    async with api:
        portal = await api.post(f"{clients}/cascade-portal/secret")
        unknown = await api.get(f"{clients}/no-such-client")
    for response in (portal, unknown):
        assert response.status_code == 404
        assert response.json()["detail"] == "No client was found that you administer."


async def test_deleting_a_client_revokes_its_tokens(identity: IdentityHarness) -> None:
    created = await create(identity, tax_ids=["12-3456789"])
    client_id, secret = created["client_id"], created["client_secret"]
    issued = await secret_token(identity, client_id, secret)
    assert issued.status_code == 200 and "refresh_token" not in issued.json()
    access = issued.json()["access_token"]
    settings, keystore = identity.settings, identity.app.state.keystore
    async with identity.session() as session:
        claims, _ = await verify_access_token(
            access, keystore, OAuthStore(session, settings), settings, CASCADE_RESOURCE
        )
    assert claims["sub"] == client_id

    api, clients = await admin_api(identity)
    async with api:
        deleted = await api.delete(f"{clients}/{client_id}")
        gone = await api.get(f"{clients}/{client_id}")
    assert deleted.status_code == 204, deleted.text
    assert gone.status_code == 404
    refused = await secret_token(identity, client_id, secret)
    assert refused.json()["error"] == "invalid_client"
    async with identity.session() as session:
        with pytest.raises(InvalidToken, match="revoked"):
            await verify_access_token(
                access, keystore, OAuthStore(session, settings), settings, CASCADE_RESOURCE
            )
        assert await session.get(Client, client_id) is None
    [event] = await events(identity, "client.deleted", client_id)
    assert event.details["before"]["tax_ids"] == ["12-3456789"]
    assert event.details["after"] == {"refresh_tokens_revoked": 0}, (
        "a client_credentials token is not stored: it is inactive because its client is gone"
    )
