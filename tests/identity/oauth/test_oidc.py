"""ID tokens and userinfo (OpenID Connect Core 1.0), discovery and JWKS."""

from __future__ import annotations

import time

from joserfc import jwt
from joserfc.jwk import KeySet

from tests.identity.flows import exchange_portal_code, portal_code, portal_tokens
from tests.identity.harness import PORTAL, IdentityHarness


async def test_id_token_claims(identity: IdentityHarness) -> None:
    async with identity.client() as browser:
        code, pkce = await portal_code(identity, browser, "sam.biller", nonce="n-42")
        assert pkce is not None
        tokens = (await exchange_portal_code(identity, browser, code, pkce.verifier)).json()
        published = (await browser.get("/.well-known/jwks.json")).json()
    jwks = KeySet.import_key_set(published)
    token = jwt.decode(tokens["id_token"], jwks, algorithms=["RS256", "ES256"])
    claims = token.claims
    assert claims["iss"] == identity.settings.issuer
    assert claims["aud"] == PORTAL
    assert claims["nonce"] == "n-42"
    assert claims["exp"] > time.time() >= claims["iat"] - 5
    assert abs(claims["auth_time"] - time.time()) < 60
    assert claims["amr"] == ["pwd"] and claims["acr"]
    assert claims["sub"] and claims["sid"]
    assert token.header["kid"] in {k["kid"] for k in published["keys"]}


async def test_userinfo_reflects_scopes_and_tins(identity: IdentityHarness) -> None:
    tokens = await portal_tokens(identity, "sam.biller")
    async with identity.client() as client:
        response = await client.get(
            "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        missing = await client.get("/userinfo")
    assert response.status_code == 200
    body = response.json()
    assert body["preferred_username"] == "sam.biller"
    assert body["tax_ids"] == ["123456789"]
    assert "@" in body["email"]
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")


async def test_discovery_document(identity: IdentityHarness) -> None:
    async with identity.client() as client:
        meta = (await client.get("/.well-known/openid-configuration")).json()
    issuer = identity.settings.issuer
    assert meta["issuer"] == issuer
    for key in (
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "end_session_endpoint",
    ):
        assert meta[key].startswith(issuer)
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert "private_key_jwt" in meta["token_endpoint_auth_methods_supported"]
    assert "RS256" in meta["id_token_signing_alg_values_supported"]
    assert set(meta["response_types_supported"]) == {"code"}
    assert "public" in meta["subject_types_supported"]


async def test_jwks_has_only_public_keys_with_kid(identity: IdentityHarness) -> None:
    async with identity.client() as client:
        keys = (await client.get("/.well-known/jwks.json")).json()["keys"]
    assert len(keys) >= 2, "the active key and the next key are both published"
    for key in keys:
        assert key["kid"] and key["use"] == "sig"
        assert not {"d", "p", "q", "dp", "dq", "qi"} & key.keys()
