"""Authorization code, refresh token and client credentials grants (RFC 6749)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from joserfc import jws
from sqlalchemy import update

from identity.models import RefreshToken
from identity.settings import CASCADE_RESOURCE
from tests.identity.flows import exchange_portal_code, portal_code, portal_tokens
from tests.identity.harness import PASSWORD, PORTAL, PORTAL_REDIRECT, IdentityHarness
from tests.support.oidc import Pkce, authorize_url, jwt_claims, query_of, sign_in


async def test_code_flow_issues_tokens_with_the_users_tins(identity: IdentityHarness) -> None:
    tokens = await portal_tokens(identity, "sam.biller")
    assert tokens["token_type"] == "Bearer"
    assert {"access_token", "refresh_token", "id_token", "expires_in"} <= tokens.keys()
    access = jwt_claims(tokens["access_token"])
    assert access["aud"] == CASCADE_RESOURCE, "the portal's default: its own plan's APIs"
    assert access["iss"] == identity.settings.issuer
    assert access["client_id"] == PORTAL
    assert access["tax_ids"] == ["123456789"]
    assert "billing" in access["roles"] and "subscriber" in access["roles"]
    assert isinstance(access["org_id"], str)
    assert "eligibility:read" in str(access["scope"]).split()
    header = jws.extract_compact(tokens["access_token"].encode()).headers()
    assert header["typ"] == "at+jwt" and header["kid"]


async def test_administrator_token_carries_both_tins(identity: IdentityHarness) -> None:
    tokens = await portal_tokens(identity, "ever.admin")
    assert sorted(jwt_claims(tokens["access_token"])["tax_ids"]) == ["123456789", "987654321"]


async def test_code_replay_fails_and_revokes_what_it_issued(identity: IdentityHarness) -> None:
    async with identity.client() as browser:
        code, pkce = await portal_code(identity, browser, "sam.biller")
        assert pkce is not None
        first = await exchange_portal_code(identity, browser, code, pkce.verifier)
        assert first.status_code == 200
        replay = await exchange_portal_code(identity, browser, code, pkce.verifier)
        assert replay.status_code == 400
        assert replay.json()["error"] == "invalid_grant"
        refresh = await browser.post(
            "/token",
            data={"grant_type": "refresh_token", "refresh_token": first.json()["refresh_token"]},
            auth=(PORTAL, identity.credentials.portal_secret),
        )
    assert refresh.status_code == 400
    assert refresh.json()["error"] == "invalid_grant"


async def test_wrong_pkce_verifier_is_refused(identity: IdentityHarness) -> None:
    async with identity.client() as browser:
        code, _ = await portal_code(identity, browser, "sam.biller")
        response = await exchange_portal_code(identity, browser, code, Pkce.new().verifier)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_missing_pkce_verifier_is_refused_when_a_challenge_was_sent(
    identity: IdentityHarness,
) -> None:
    async with identity.client() as browser:
        code, _ = await portal_code(identity, browser, "sam.biller")
        response = await exchange_portal_code(identity, browser, code, None)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_plain_pkce_is_refused(identity: IdentityHarness) -> None:
    pkce = Pkce.new()
    url = authorize_url(
        PORTAL, PORTAL_REDIRECT, None, code_challenge=pkce.verifier, code_challenge_method="plain"
    )
    async with identity.client() as browser:
        response = await sign_in(browser, url, "sam.biller", PASSWORD)
    assert response.status_code == 302
    assert query_of(response.headers["location"])["error"] == "invalid_request"


async def test_wrong_client_secret_is_invalid_client_401(identity: IdentityHarness) -> None:
    async with identity.client() as browser:
        code, pkce = await portal_code(identity, browser, "sam.biller")
        assert pkce is not None
        response = await browser.post(
            "/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": PORTAL_REDIRECT,
                "code_verifier": pkce.verifier,
            },
            auth=(PORTAL, "not-the-secret"),
        )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def refresh(identity: IdentityHarness, token: str) -> httpx.Response:
    async with identity.client() as client:
        return await client.post(
            "/token",
            data={"grant_type": "refresh_token", "refresh_token": token},
            auth=(PORTAL, identity.credentials.portal_secret),
        )


async def age_rotation(identity: IdentityHarness, seconds: int) -> None:
    async with identity.session() as session:
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.rotated_at.is_not(None))
            .values(rotated_at=datetime.now(UTC) - timedelta(seconds=seconds))
        )
        await session.commit()


async def test_refresh_rotates_and_reuse_after_the_grace_window_revokes_the_family(
    identity: IdentityHarness,
) -> None:
    tokens = await portal_tokens(identity, "sam.biller")
    first = await refresh(identity, tokens["refresh_token"])
    assert first.status_code == 200, first.text
    rotated = first.json()["refresh_token"]
    assert rotated != tokens["refresh_token"]
    await age_rotation(identity, identity.settings.refresh_grace_seconds + 1)
    reuse = await refresh(identity, tokens["refresh_token"])
    assert reuse.status_code == 400
    assert reuse.json()["error"] == "invalid_grant"
    after = await refresh(identity, rotated)
    assert after.status_code == 400, "the whole family is revoked after reuse"
    assert after.json()["error"] == "invalid_grant"


async def test_parallel_refresh_within_the_grace_window_gets_the_same_pair(
    identity: IdentityHarness,
) -> None:
    tokens = await portal_tokens(identity, "sam.biller")
    first = await refresh(identity, tokens["refresh_token"])
    second = await refresh(identity, tokens["refresh_token"])
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json(), "a second tab gets the pair the first one got"
    onward = await refresh(identity, first.json()["refresh_token"])
    assert onward.status_code == 200, "the family is still good"


async def test_client_credentials_with_a_secret_carries_the_clients_tins(
    identity: IdentityHarness,
) -> None:
    async with identity.client() as client:
        response = await client.post(
            "/token",
            data={"grant_type": "client_credentials", "scope": "claims:read"},
            auth=("acme-curl", identity.credentials.curl_secret),
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "refresh_token" not in body
    access = jwt_claims(body["access_token"])
    assert access["sub"] == "acme-curl"
    assert sorted(access["tax_ids"]) == ["123456789", "987654321"]
    assert access["scope"] == "claims:read"
    assert access["roles"] == ["integrator"]


async def test_public_client_cannot_use_client_credentials(identity: IdentityHarness) -> None:
    async with identity.client() as client:
        response = await client.post(
            "/token", data={"grant_type": "client_credentials", "client_id": "tinpass-cli"}
        )
    assert response.status_code in (400, 401)
    assert response.json()["error"] in ("invalid_client", "unauthorized_client")
