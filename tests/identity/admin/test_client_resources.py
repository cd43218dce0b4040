"""An administrator chooses which plans (RFC 8707 resources) an integrator client may
call, in the API and in the console; by default the first plan TINpass knows."""

from __future__ import annotations

import re

import httpx

from identity.settings import CASCADE_RESOURCE, SUMMIT_RESOURCE
from tests.identity.admin.test_clients import admin_api, create
from tests.identity.admin_flows import org_id_of
from tests.identity.harness import IdentityHarness
from tests.identity.web.test_console import csrf_of, signed_in
from tests.support.oidc import jwt_claims


async def _token(
    identity: IdentityHarness, client_id: str, secret: str, resource: str | None = None
) -> httpx.Response:
    data = {"grant_type": "client_credentials"} | ({"resource": resource} if resource else {})
    async with identity.client() as client:
        return await client.post("/token", data=data, auth=(client_id, secret))


async def test_a_new_client_defaults_to_the_first_plan(identity: IdentityHarness) -> None:
    created = await create(identity, tax_ids=["12-3456789"])
    assert created["resources"] == [CASCADE_RESOURCE]
    other = await _token(identity, created["client_id"], created["client_secret"], SUMMIT_RESOURCE)
    assert other.status_code == 400 and other.json()["error"] == "invalid_target"


async def test_the_administrator_chooses_and_changes_the_plans(identity: IdentityHarness) -> None:
    created = await create(identity, tax_ids=["12-3456789"], resources=[SUMMIT_RESOURCE])
    client_id, secret = created["client_id"], created["client_secret"]
    summit = await _token(identity, client_id, secret)
    assert jwt_claims(summit.json()["access_token"])["aud"] == SUMMIT_RESOURCE
    api, clients = await admin_api(identity)
    async with api:
        changed = await api.patch(
            f"{clients}/{client_id}", json={"resources": [CASCADE_RESOURCE, SUMMIT_RESOURCE]}
        )
        unknown = await api.patch(
            f"{clients}/{client_id}", json={"resources": ["https://elsewhere.example"]}
        )
        empty = await api.patch(f"{clients}/{client_id}", json={"resources": []})
    assert changed.status_code == 200 and changed.json()["resources"] == [
        CASCADE_RESOURCE,
        SUMMIT_RESOURCE,
    ]
    for refused in (unknown, empty):
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["field"] == "resources"
    cascade = await _token(identity, client_id, secret)
    assert jwt_claims(cascade.json()["access_token"])["aud"] == CASCADE_RESOURCE, "new default"


async def test_the_console_chooses_the_plans(identity: IdentityHarness) -> None:
    org = await org_id_of(identity, "Evergreen Family Clinic")
    async with signed_in(identity, "ever.admin") as browser:
        clients = f"/console/orgs/{org}/clients"
        token = await csrf_of(browser, clients)
        made = await browser.post(
            clients,
            data={"csrf_token": token, "name": "Summit batch", "resources": [SUMMIT_RESOURCE]},
        )
        shown = await browser.get(made.headers["location"])
        found = re.search(r'id="client-id">([^<]+)<', shown.text)
        secret = re.search(r'id="client-secret">([^<]+)<', shown.text)
        assert made.status_code == 303 and found and secret, shown.text
        client_id = found.group(1)
        listing = await browser.get(clients)
        changed = await browser.post(
            f"{clients}/{client_id}/resources",
            data={"csrf_token": await csrf_of(browser, clients), "resources": [CASCADE_RESOURCE]},
        )
    assert "Summit Health Plan" in listing.text and "Plans Summit batch may call" in listing.text
    assert changed.status_code == 303, changed.text
    issued = await _token(identity, client_id, secret.group(1))
    assert jwt_claims(issued.json()["access_token"])["aud"] == CASCADE_RESOURCE
