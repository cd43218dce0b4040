"""The central promise across real processes: SSO login, a token with Tax IDs,
the gateway, and eligibility and claims decided by TIN."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from deploy.stack import Stack
from tests.support.oidc import Pkce, authorize_url, jwt_claims, query_of, sign_in

pytestmark = pytest.mark.e2e

PASSWORD = "Demo.Passw0rd-2026"


async def user_tokens(
    stack: Stack, browser: httpx.AsyncClient, username: str, **extra: str
) -> dict[str, Any]:
    pkce = Pkce.new()
    redirect_uri = stack.url("gateway") + "/portal/callback"
    response = await sign_in(
        browser,
        stack.issuer + authorize_url("cascade-portal", redirect_uri, pkce, **extra),
        username,
        PASSWORD,
    )
    assert response.status_code == 302, response.text
    code = query_of(response.headers["location"])["code"]
    token = await browser.post(
        stack.issuer + "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": pkce.verifier,
        },
        auth=("cascade-portal", stack.credentials()["cascade-portal"]),
    )
    assert token.status_code == 200, token.text
    tokens: dict[str, Any] = token.json()
    return tokens


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def test_login_then_eligibility_through_the_gateway(stack: Stack) -> None:
    async with httpx.AsyncClient() as browser:
        tokens = await user_tokens(stack, browser, "sam.biller")
        answer = await browser.post(
            stack.url("gateway") + "/eligibility/v1/inquiries",
            json={"member_id": "M1000101", "date_of_birth": "1985-04-12"},
            headers=bearer(tokens),
        )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "active"
    assert body["matched_provider"]["tin"] == "123456789"
    assert answer.headers["x-request-id"]


async def test_subscriber_with_one_tin_sees_only_that_tins_claims(stack: Stack) -> None:
    async with httpx.AsyncClient() as browser:
        admin = await user_tokens(stack, browser, "ever.admin")
        everything = (
            await browser.get(stack.url("gateway") + "/claims/v1/claims", headers=bearer(admin))
        ).json()
        other_tin = next(
            c["claim_number"] for c in everything["claims"] if c["billing_tin"] == "987654321"
        )
    async with httpx.AsyncClient() as browser:
        sam = await user_tokens(stack, browser, "sam.biller")
        listed = await browser.get(stack.url("gateway") + "/claims/v1/claims", headers=bearer(sam))
        hidden = await browser.get(
            stack.url("gateway") + f"/claims/v1/claims/{other_tin}", headers=bearer(sam)
        )
    assert listed.status_code == 200
    claims = listed.json()["claims"]
    assert claims and {c["billing_tin"] for c in claims} == {"123456789"}
    assert hidden.status_code == 404
    assert hidden.headers["content-type"].startswith("application/problem+json")


async def test_other_organization_gets_the_explained_refusal(stack: Stack) -> None:
    async with httpx.AsyncClient() as browser:
        tokens = await user_tokens(stack, browser, "hana.harb")
        refused = await browser.get(
            stack.url("gateway") + "/claims/v1/claims", headers=bearer(tokens)
        )
    assert refused.status_code == 403
    problem = refused.json()
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "55-5000111" in problem["detail"]
    assert "match no provider record" in problem["detail"]
    assert "administrator" in problem["detail"]


async def test_integrator_with_private_key_jwt_reads_its_own_tins_only(stack: Stack) -> None:
    key_file = Path(stack.credentials()["acme-integrator-key-path"])
    key = RSAKey.import_key(json.loads(key_file.read_text()))
    now = int(time.time())
    assertion = jwt.encode(
        {"alg": "RS256", "kid": key.kid},
        {
            "iss": "acme-integrator",
            "sub": "acme-integrator",
            "aud": stack.issuer + "/token",
            "iat": now,
            "exp": now + 120,
            "jti": str(uuid.uuid4()),
        },
        key,
    )
    async with httpx.AsyncClient() as client:
        token = await client.post(
            stack.issuer + "/token",
            data={
                "grant_type": "client_credentials",
                "scope": "claims:read",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": assertion,
            },
        )
        assert token.status_code == 200, token.text
        listed = await client.get(
            stack.url("gateway") + "/claims/v1/claims", headers=bearer(token.json())
        )
    assert jwt_claims(token.json()["access_token"])["tax_ids"] == ["987654321"]
    assert listed.status_code == 200
    assert {c["billing_tin"] for c in listed.json()["claims"]} == {"987654321"}


async def test_second_client_skips_login_by_sso_and_logout_ends_it(stack: Stack) -> None:
    async with httpx.AsyncClient() as browser:
        tokens = await user_tokens(stack, browser, "sam.biller")
        second = await browser.get(
            stack.issuer
            + authorize_url("tinpass-cli", "http://127.0.0.1:8765/callback", Pkce.new())
        )
        assert second.status_code == 302 and "code" in query_of(second.headers["location"])
        logout = await browser.get(
            stack.issuer + "/logout",
            params={
                "id_token_hint": tokens["id_token"],
                "post_logout_redirect_uri": stack.url("gateway") + "/",
            },
        )
        after = await browser.get(
            stack.issuer
            + authorize_url("tinpass-cli", "http://127.0.0.1:8765/callback", Pkce.new())
        )
    assert logout.status_code == 302
    assert after.status_code == 200 and 'name="password"' in after.text


async def test_gateway_refuses_without_a_token(stack: Stack) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(stack.url("gateway") + "/claims/v1/claims")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_billing_subscriber_submits_a_claim_through_the_gateway(stack: Stack) -> None:
    """The token carries `claims:write`; the claim is edited, adjudicated and answered
    once for a retried submission with the same Idempotency-Key."""
    from provider_data.documents import npi

    body = {
        "patient_control_number": f"E2E-{uuid.uuid4().hex[:8]}",
        "billing_provider": {"npi": npi.make("123456789"), "tin": "12-3456789"},
        "rendering_provider_npi": npi.make("123456789"),
        "member": {"member_id": "*M1000101"},
        "diagnoses": ["J06.9"],
        "total_charge": "150.00",
        "lines": [{"procedure_code": "99213", "charge": "150.00", "service_date": "2026-03-02"}],
    }
    async with httpx.AsyncClient() as browser:
        scope = "openid eligibility:read claims:read claims:write"
        tokens = await user_tokens(stack, browser, "sam.biller", scope=scope)
        assert "claims:write" in jwt_claims(tokens["access_token"])["scope"].split()
        headers = {**bearer(tokens), "Idempotency-Key": str(uuid.uuid4())}
        url = stack.url("gateway") + "/claims/v1/claims"
        first = await browser.post(url, json=body, headers=headers)
        retried = await browser.post(url, json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert retried.status_code == 201 and retried.json() == first.json()
    assert first.json()["billing_tin"] == "123456789"
