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


EVIDENCE: dict[str, Any] = {"legal_name": "Evergreen Family Clinic PLLC", "attest": True}


async def operator_decides(
    identity: IdentityHarness, org_id: str, tin: str, verb: str = "approve", reason: str = ""
) -> dict[str, Any]:
    """As the demo operator, approve (or reject) `org_id`'s TIN waiting for verification."""
    operator = bearer(await admin_token(identity, "ops.olivia"))
    async with identity.client(headers=operator) as api:
        waiting = (await api.get("/api/v1/operator/tax-id-requests")).json()["requests"]
        found = [
            r
            for r in waiting
            if r["tin"].replace("-", "") == tin.replace("-", "")
            and r["organization"]["id"] == org_id
        ]
        assert len(found) == 1, waiting
        decided = await api.post(
            f"/api/v1/operator/tax-id-requests/{found[0]['id']}/{verb}", json={"reason": reason}
        )
    assert decided.status_code == 200, decided.text
    shown: dict[str, Any] = decided.json()
    return shown
