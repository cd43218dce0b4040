"""Each plan's APIs are their own audience (RFC 8707 resource indicators): a token
minted for one plan is refused at the other plan's gateway and at its eligibility
and claims services, both ways, across real processes with two plans."""

from __future__ import annotations

import httpx
import pytest

from deploy.stack import Stack
from identity.settings import CASCADE_RESOURCE, SUMMIT_RESOURCE
from tests.support.oidc import Pkce, authorize_url, jwt_claims, query_of, sign_in

pytestmark = pytest.mark.e2e

PASSWORD = "Demo.Passw0rd-2026"
INQUIRY = {"member_id": "M1000101", "date_of_birth": "1985-04-12"}


async def portal_token(stack: Stack, portal: str, gateway: str) -> str:
    """ever.admin signs in at a plan's portal client; its access token."""
    pkce = Pkce.new()
    redirect_uri = stack.url(gateway) + "/portal/callback"
    async with httpx.AsyncClient() as browser:
        response = await sign_in(
            browser,
            stack.issuer + authorize_url(portal, redirect_uri, pkce),
            "ever.admin",
            PASSWORD,
        )
        assert response.status_code == 302, response.text
        token = await browser.post(
            stack.issuer + "/token",
            data={
                "grant_type": "authorization_code",
                "code": query_of(response.headers["location"])["code"],
                "redirect_uri": redirect_uri,
                "code_verifier": pkce.verifier,
            },
            auth=(portal, stack.credentials()[portal]),
        )
    assert token.status_code == 200, token.text
    access: str = token.json()["access_token"]
    return access


async def calls(stack: Stack, prefix: str, token: str) -> list[httpx.Response]:
    """The plan's gateway, eligibility and claims services called with `token`."""
    headers = {"Authorization": f"Bearer {token}"}
    gateway, eligibility, claims = (
        stack.url(f"{prefix}{name}") for name in ("gateway", "eligibility", "claims")
    )
    inquiries = "/eligibility/v1/inquiries"
    async with httpx.AsyncClient(headers=headers) as client:
        return [
            await client.get(gateway + "/claims/v1/claims"),
            await client.post(gateway + inquiries, json=INQUIRY),
            await client.post(eligibility + inquiries, json=INQUIRY),
            await client.get(claims + "/claims/v1/claims"),
        ]


def assert_refused(responses: list[httpx.Response]) -> None:
    for response in responses:
        assert response.status_code == 401, (response.request.url, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_a_portal_token_works_only_at_its_own_plan(two_plans: Stack) -> None:
    cascade = await portal_token(two_plans, "cascade-portal", "gateway")
    summit = await portal_token(two_plans, "summit-portal", "summit-gateway")
    assert jwt_claims(cascade)["aud"] == CASCADE_RESOURCE
    assert jwt_claims(summit)["aud"] == SUMMIT_RESOURCE
    assert_refused(await calls(two_plans, "summit-", cascade))
    assert_refused(await calls(two_plans, "", summit))
    at_home = [*await calls(two_plans, "", cascade), *await calls(two_plans, "summit-", summit)]
    assert all(r.status_code != 401 for r in at_home), [r.text for r in at_home]
    assert at_home[0].status_code == 200 and at_home[4].status_code == 200


async def test_an_integrator_asks_for_each_plan_by_resource(two_plans: Stack) -> None:
    auth = ("acme-curl", two_plans.credentials()["acme-curl"])
    async with httpx.AsyncClient() as client:
        default, summit = [
            await client.post(
                two_plans.issuer + "/token",
                data={"grant_type": "client_credentials", "scope": "claims:read", **extra},
                auth=auth,
            )
            for extra in ({}, {"resource": SUMMIT_RESOURCE})
        ]
    cascade_token, summit_token = default.json()["access_token"], summit.json()["access_token"]
    assert jwt_claims(cascade_token)["aud"] == CASCADE_RESOURCE, "acme-curl's default plan"
    assert_refused((await calls(two_plans, "", summit_token))[::3])
    assert_refused((await calls(two_plans, "summit-", cascade_token))[::3])
    allowed = (await calls(two_plans, "summit-", summit_token))[0]
    assert allowed.status_code == 200, allowed.text
