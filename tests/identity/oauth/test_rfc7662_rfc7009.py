"""Token introspection (RFC 7662) and revocation (RFC 7009)."""

from __future__ import annotations

from tests.identity.flows import portal_tokens
from tests.identity.harness import PORTAL, IdentityHarness


async def test_introspection_then_revocation_of_an_access_token(identity: IdentityHarness) -> None:
    tokens = await portal_tokens(identity, "sam.biller")
    auth = (PORTAL, identity.credentials.portal_secret)
    async with identity.client() as client:
        active = await client.post("/introspect", data={"token": tokens["access_token"]}, auth=auth)
        revoked = await client.post(
            "/revoke",
            data={"token": tokens["access_token"], "token_type_hint": "access_token"},
            auth=auth,
        )
        after = await client.post("/introspect", data={"token": tokens["access_token"]}, auth=auth)
    assert active.status_code == 200
    body = active.json()
    assert body["active"] is True
    assert body["client_id"] == PORTAL and body["tax_ids"] == ["123456789"]
    assert revoked.status_code == 200
    assert after.json() == {"active": False}


async def test_revoking_a_refresh_token_revokes_its_family(identity: IdentityHarness) -> None:
    tokens = await portal_tokens(identity, "sam.biller")
    auth = (PORTAL, identity.credentials.portal_secret)
    async with identity.client() as client:
        await client.post("/revoke", data={"token": tokens["refresh_token"]}, auth=auth)
        refresh = await client.post(
            "/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            auth=auth,
        )
        access = await client.post("/introspect", data={"token": tokens["access_token"]}, auth=auth)
    assert refresh.json()["error"] == "invalid_grant"
    assert access.json() == {"active": False}


async def test_another_client_cannot_introspect_a_token(identity: IdentityHarness) -> None:
    tokens = await portal_tokens(identity, "sam.biller")
    async with identity.client() as client:
        response = await client.post(
            "/introspect",
            data={"token": tokens["access_token"]},
            auth=("acme-curl", identity.credentials.curl_secret),
        )
    assert response.json() == {"active": False}


async def test_unknown_token_revocation_answers_200(identity: IdentityHarness) -> None:
    async with identity.client() as client:
        response = await client.post(
            "/revoke",
            data={"token": "no-such-token"},
            auth=(PORTAL, identity.credentials.portal_secret),
        )
    assert response.status_code == 200


async def test_introspection_needs_client_authentication(identity: IdentityHarness) -> None:
    async with identity.client() as client:
        response = await client.post("/introspect", data={"token": "x"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
