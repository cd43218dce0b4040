"""Authlib's own OAuth client as the relying party: an independent protocol check.

Authlib 1.9's HTTP client integration is built on httpx2, so it gets an httpx2 transport.
"""

from __future__ import annotations

import time

import httpx2
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc.jwk import RSAKey

from tests.identity.harness import ISSUER, PASSWORD, PORTAL, PORTAL_REDIRECT, IdentityHarness
from tests.support.oidc import Pkce, jwt_claims, sign_in


async def test_authlib_client_completes_code_flow_with_pkce_and_refresh(
    identity: IdentityHarness,
) -> None:
    pkce = Pkce.new()
    async with AsyncOAuth2Client(
        client_id=PORTAL,
        client_secret=identity.credentials.portal_secret,
        redirect_uri=PORTAL_REDIRECT,
        scope="openid profile offline_access claims:read",
        code_challenge_method="S256",
        transport=httpx2.ASGITransport(app=identity.app),
        base_url=ISSUER,
    ) as rp:
        url, state = rp.create_authorization_url(
            ISSUER + "/authorize", code_verifier=pkce.verifier, nonce="rp-nonce"
        )
        async with identity.client() as browser:
            redirect = await sign_in(browser, url.removeprefix(ISSUER), "sam.biller", PASSWORD)
        assert redirect.status_code == 302
        token = await rp.fetch_token(
            ISSUER + "/token",
            authorization_response=redirect.headers["location"],
            code_verifier=pkce.verifier,
        )
        assert jwt_claims(token["access_token"])["tax_ids"] == ["123456789"]
        assert jwt_claims(token["id_token"])["nonce"] == "rp-nonce"
        refreshed = await rp.refresh_token(ISSUER + "/token", refresh_token=token["refresh_token"])
        assert refreshed["refresh_token"] != token["refresh_token"]
        assert state


async def test_authlib_client_uses_private_key_jwt(identity: IdentityHarness) -> None:
    key = RSAKey.import_key(identity.integrator_key())
    async with AsyncOAuth2Client(
        client_id="acme-integrator",
        client_secret=key,
        # SMART Backend Services allows assertions of at most five minutes.
        token_endpoint_auth_method=PrivateKeyJWT(
            ISSUER + "/token", claims={"exp": int(time.time()) + 240}
        ),
        transport=httpx2.ASGITransport(app=identity.app),
        base_url=ISSUER,
    ) as integrator:
        token = await integrator.fetch_token(
            ISSUER + "/token", grant_type="client_credentials", scope="claims:read"
        )
    assert jwt_claims(token["access_token"])["tax_ids"] == ["987654321"]
