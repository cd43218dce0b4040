"""Complete protocol flows used by several identity tests."""

from __future__ import annotations

from typing import Any

import httpx

from tests.identity.harness import (
    CLI,
    CLI_REDIRECT,
    PASSWORD,
    PORTAL,
    PORTAL_REDIRECT,
    IdentityHarness,
)
from tests.support.oidc import Pkce, authorize_url, query_of, sign_in


async def portal_code(
    identity: IdentityHarness,
    browser: httpx.AsyncClient,
    username: str,
    pkce: Pkce | None = None,
    password: str = PASSWORD,
    **extra: str,
) -> tuple[str, Pkce | None]:
    pkce = pkce or Pkce.new()
    response = await sign_in(
        browser, authorize_url(PORTAL, PORTAL_REDIRECT, pkce, **extra), username, password
    )
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(PORTAL_REDIRECT + "?")
    return query_of(location)["code"], pkce


async def exchange_portal_code(
    identity: IdentityHarness, client: httpx.AsyncClient, code: str, verifier: str | None
) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": PORTAL_REDIRECT}
    if verifier:
        data["code_verifier"] = verifier
    return await client.post("/token", data=data, auth=(PORTAL, identity.credentials.portal_secret))


async def portal_tokens(
    identity: IdentityHarness, username: str, password: str = PASSWORD
) -> dict[str, Any]:
    async with identity.client() as browser:
        code, pkce = await portal_code(identity, browser, username, password=password)
        assert pkce is not None
        response = await exchange_portal_code(identity, browser, code, pkce.verifier)
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


async def portal_sign_in(
    identity: IdentityHarness, username: str, password: str = PASSWORD
) -> httpx.Response:
    """The response to signing in at the portal's authorization request (no exchange)."""
    async with identity.client() as browser:
        url = authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new())
        return await sign_in(browser, url, username, password)


async def cli_code(browser: httpx.AsyncClient, username: str, pkce: Pkce) -> str:
    response = await sign_in(browser, authorize_url(CLI, CLI_REDIRECT, pkce), username, PASSWORD)
    assert response.status_code == 302, response.text
    return query_of(response.headers["location"])["code"]
