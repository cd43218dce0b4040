"""RFC 8707 resource indicators: each plan's APIs are their own audience.

A client may use the resources registered on it (the first is its default); a
code and a refresh token keep what was granted at /authorize, and a token request
may narrow that grant but never widen it. Every refusal is `invalid_target`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from identity import admin_ops
from identity.settings import CASCADE_RESOURCE, SUMMIT_RESOURCE
from tests.identity.flows import exchange_portal_code, portal_code
from tests.identity.harness import CLI, CLI_REDIRECT, PASSWORD, PORTAL, IdentityHarness
from tests.support.oidc import Pkce, authorize_url, jwt_claims, query_of, sign_in

SUMMIT_PORTAL = "summit-portal"
SUMMIT_REDIRECT = "http://127.0.0.1:8081/portal/callback"
BOTH = (CASCADE_RESOURCE, SUMMIT_RESOURCE)


def _with_resources(url: str, *resources: str) -> str:
    return url + "&" + urlencode([("resource", r) for r in resources]) if resources else url


async def _cli_grant(
    identity: IdentityHarness, browser: httpx.AsyncClient, *resources: str
) -> tuple[str, Pkce]:
    """tinpass-cli (allowed both plans) authorized for `resources`; its code."""
    pkce = Pkce.new()
    url = _with_resources(authorize_url(CLI, CLI_REDIRECT, pkce), *resources)
    response = await sign_in(browser, url, "sam.biller", PASSWORD)
    assert response.status_code == 302, response.text
    return query_of(response.headers["location"])["code"], pkce


async def _cli_exchange(
    browser: httpx.AsyncClient, code: str, pkce: Pkce, **extra: str
) -> httpx.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CLI_REDIRECT,
        "client_id": CLI,
        "code_verifier": pkce.verifier,
        **extra,
    }
    return await browser.post("/token", data=data)


async def _cli_refresh(browser: httpx.AsyncClient, refresh: str, **extra: str) -> httpx.Response:
    data = {"grant_type": "refresh_token", "refresh_token": refresh, "client_id": CLI, **extra}
    return await browser.post("/token", data=data)


def _refused(response: httpx.Response, fragment: str) -> None:
    assert response.status_code == 400, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == "invalid_target", body
    assert fragment in body["error_description"], body


async def test_each_portal_gets_a_token_for_its_own_plan(identity: IdentityHarness) -> None:
    async with identity.client() as browser:
        code, pkce = await portal_code(identity, browser, "sam.biller")
        assert pkce is not None
        cascade = await exchange_portal_code(identity, browser, code, pkce.verifier)
        pkce = Pkce.new()
        url = authorize_url(SUMMIT_PORTAL, SUMMIT_REDIRECT, pkce)
        redirect = await sign_in(browser, url, "sam.biller", PASSWORD)
        summit = await browser.post(
            "/token",
            data={
                "grant_type": "authorization_code",
                "code": query_of(redirect.headers["location"])["code"],
                "redirect_uri": SUMMIT_REDIRECT,
                "code_verifier": pkce.verifier,
            },
            auth=(SUMMIT_PORTAL, identity.credentials.summit_portal_secret),
        )
    assert jwt_claims(cascade.json()["access_token"])["aud"] == CASCADE_RESOURCE
    assert jwt_claims(summit.json()["access_token"])["aud"] == SUMMIT_RESOURCE


async def test_a_portal_cannot_ask_for_the_other_plan(identity: IdentityHarness) -> None:
    async with identity.client() as browser:
        url = authorize_url(PORTAL, "http://127.0.0.1:8080/portal/callback", Pkce.new())
        response = await sign_in(
            browser, _with_resources(url, SUMMIT_RESOURCE), "sam.biller", PASSWORD
        )
    assert response.status_code == 302, "the error goes back to the client's redirect URI"
    error = query_of(response.headers["location"])
    assert error["error"] == "invalid_target"
    assert SUMMIT_RESOURCE in error["error_description"]


@pytest.mark.parametrize(
    ("resource", "why"),
    [
        (CASCADE_RESOURCE + "#claims", "fragment"),
        ("/claims/v1", "absolute URI"),
        ("api.cascade.plans.example", "absolute URI"),
        ("https://api.cascade.plans.example/\x00", "control"),
        ("https://elsewhere.example", "not a resource"),
    ],
)
async def test_client_credentials_resource_is_checked(
    identity: IdentityHarness, resource: str, why: str
) -> None:
    async with identity.client() as client:
        response = await client.post(
            "/token",
            data={"grant_type": "client_credentials", "resource": resource},
            auth=("acme-curl", identity.credentials.curl_secret),
        )
    _refused(response, why)


async def test_client_credentials_for_each_plan_and_the_default(identity: IdentityHarness) -> None:
    auth = ("acme-curl", identity.credentials.curl_secret)
    async with identity.client() as client:
        default = await client.post("/token", data={"grant_type": "client_credentials"}, auth=auth)
        summit = await client.post(
            "/token",
            data={"grant_type": "client_credentials", "resource": SUMMIT_RESOURCE},
            auth=auth,
        )
        both = await client.post(
            "/token",
            content=_with_resources("grant_type=client_credentials", *BOTH),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            auth=auth,
        )
    assert jwt_claims(default.json()["access_token"])["aud"] == CASCADE_RESOURCE
    assert jwt_claims(summit.json()["access_token"])["aud"] == SUMMIT_RESOURCE
    _refused(both, "one resource per access token")


async def test_a_code_for_both_plans_is_narrowed_per_token(identity: IdentityHarness) -> None:
    async with identity.client() as browser:
        code, pkce = await _cli_grant(identity, browser, *BOTH)
        issued = await _cli_exchange(browser, code, pkce, resource=SUMMIT_RESOURCE)
        assert issued.status_code == 200, issued.text
        refresh = issued.json()["refresh_token"]
        cascade = await _cli_refresh(browser, refresh, resource=CASCADE_RESOURCE)
        assert cascade.status_code == 200, cascade.text
        default = await _cli_refresh(browser, cascade.json()["refresh_token"])
    assert jwt_claims(issued.json()["access_token"])["aud"] == SUMMIT_RESOURCE
    assert jwt_claims(cascade.json()["access_token"])["aud"] == CASCADE_RESOURCE
    assert jwt_claims(default.json()["access_token"])["aud"] == CASCADE_RESOURCE, "grant's first"


async def test_refresh_cannot_widen_the_grant(identity: IdentityHarness) -> None:
    """tinpass-cli may use both plans, but this grant was for Cascade only."""
    async with identity.client() as browser:
        code, pkce = await _cli_grant(identity, browser, CASCADE_RESOURCE)
        wider_code = await _cli_exchange(browser, code, pkce, resource=SUMMIT_RESOURCE)
        code, pkce = await _cli_grant(identity, browser)  # none asked: the client's default
        issued = await _cli_exchange(browser, code, pkce)
        assert issued.status_code == 200, issued.text
        refresh = issued.json()["refresh_token"]
        wider = await _cli_refresh(browser, refresh, resource=SUMMIT_RESOURCE)
        same = await _cli_refresh(browser, refresh, resource=CASCADE_RESOURCE)
    _refused(wider_code, "this code")
    _refused(wider, "this refresh token")
    assert jwt_claims(issued.json()["access_token"])["aud"] == CASCADE_RESOURCE
    assert same.status_code == 200, "the refused request rotated nothing"
    assert jwt_claims(same.json()["access_token"])["aud"] == CASCADE_RESOURCE


async def test_a_plan_taken_from_the_client_is_not_refreshed(identity: IdentityHarness) -> None:
    async with identity.client() as browser:
        code, pkce = await _cli_grant(identity, browser, *BOTH)
        issued = await _cli_exchange(browser, code, pkce)
        async with identity.session() as session:
            await admin_ops.set_client_resources(
                session, identity.settings, CLI, [CASCADE_RESOURCE]
            )
            await session.commit()
        try:
            taken = await _cli_refresh(
                browser, issued.json()["refresh_token"], resource=SUMMIT_RESOURCE
            )
        finally:
            async with identity.session() as session:
                await admin_ops.set_client_resources(session, identity.settings, CLI, list(BOTH))
                await session.commit()
    _refused(taken, "not a resource this refresh token may use")


async def test_discovery_lists_the_plans(identity: IdentityHarness) -> None:
    async with identity.client() as client:
        metadata = (await client.get("/.well-known/openid-configuration")).json()
    assert metadata["tinpass_resources"] == [
        {"resource": CASCADE_RESOURCE, "name": "Cascade Health Plan"},
        {"resource": SUMMIT_RESOURCE, "name": "Summit Health Plan"},
    ]
