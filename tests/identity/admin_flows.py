"""Getting an administrator's token for the admin API."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from identity.models import Organization, User
from tests.identity.harness import ISSUER, PASSWORD, IdentityHarness
from tests.support.oidc import Pkce, authorize_url, query_of, sign_in

CONSOLE = "tinpass-console"
CONSOLE_REDIRECT = ISSUER + "/console/callback"


async def admin_token(identity: IdentityHarness, username: str, password: str = PASSWORD) -> str:
    pkce = Pkce.new()
    async with identity.client() as browser:
        url = authorize_url(CONSOLE, CONSOLE_REDIRECT, pkce, scope="openid tinpass:admin")
        response = await sign_in(browser, url, username, password)
        assert response.status_code == 302, response.text
        token = await browser.post(
            "/token",
            data={
                "grant_type": "authorization_code",
                "code": query_of(response.headers["location"])["code"],
                "redirect_uri": CONSOLE_REDIRECT,
                "client_id": CONSOLE,
                "code_verifier": pkce.verifier,
            },
        )
    assert token.status_code == 200, token.text
    access: str = token.json()["access_token"]
    return access


def bearer(token: str) -> dict[str, Any]:
    return {"Authorization": f"Bearer {token}"}


async def org_id_of(identity: IdentityHarness, name: str) -> str:
    async with identity.session() as session:
        found = await session.scalar(select(Organization.id).where(Organization.name == name))
    assert found is not None
    return str(found)


async def user_id_of(identity: IdentityHarness, username: str) -> str:
    async with identity.session() as session:
        found = await session.scalar(select(User.id).where(User.username == username))
    assert found is not None
    return str(found)
