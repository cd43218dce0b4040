"""The organization context of user tokens: one organization, several, a selected one,
organizations that are not active, and refresh."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from identity.models import AuditEvent
from tests.identity.harness import PASSWORD, PORTAL, PORTAL_REDIRECT, IdentityHarness
from tests.identity.oauth.org_world import (
    World,
    refresh,
    revoke_tin_grant,
    seed,
    user_tokens,
    verified,
)
from tests.support.oidc import Pkce, authorize_url, jwt_claims, query_of, sign_in

ORG_CLAIMS = ("org_id", "tax_ids", "roles", "orgs")


def org_claims(token: str) -> dict[str, Any]:
    claims = jwt_claims(token)
    return {k: claims[k] for k in ORG_CLAIMS if k in claims}


@pytest.fixture(scope="module")
async def world(identity: IdentityHarness) -> World:
    return await seed(identity, ["multi.biller", "refresh.biller", "solo.biller", "pending.only"])


async def test_one_membership_gives_the_single_organization_token_as_before(
    world: World,
) -> None:
    seeded = await user_tokens(world.identity, "sam.biller")
    claims = org_claims(seeded["access_token"])
    assert set(claims) == {"org_id", "tax_ids", "roles"}
    assert claims["tax_ids"] == ["123456789"] and claims["roles"] == ["subscriber", "billing"]
    solo = await user_tokens(world.identity, "solo.biller")
    assert org_claims(solo["access_token"]) == {
        "org_id": world.orgs["Alder Clinic"],
        "tax_ids": ["100000001"],
        "roles": ["subscriber", "billing"],
    }, "the membership of a pending organization does not count"


async def test_several_organizations_give_a_multi_organization_token(world: World) -> None:
    tokens = await user_tokens(world.identity, "multi.biller")
    assert org_claims(tokens["access_token"]) == {
        "tax_ids": ["100000001", "100000002", "200000001"],
        "roles": ["billing"],
        "orgs": [
            {
                "id": world.orgs["Alder Clinic"],
                "name": "Alder Clinic",
                "tax_ids": ["100000001", "100000002"],
                "roles": ["administrator", "billing"],
            },
            {
                "id": world.orgs["Birch Billing"],
                "name": "Birch Billing",
                "tax_ids": ["200000001"],
                "roles": ["subscriber", "billing", "clinical"],
            },
        ],
    }, "no org_id; roles held everywhere; pending and suspended organizations left out"
    principal = await verified(world.identity, tokens["access_token"])
    assert principal.org_id is None and principal.roles == frozenset({"billing"})
    assert principal.roles_for("200000001") == frozenset({"subscriber", "billing", "clinical"})
    assert "administrator" not in principal.roles_for("200000001")


async def test_id_token_carries_no_tins_and_userinfo_the_whole_context(world: World) -> None:
    tokens = await user_tokens(world.identity, "multi.biller")
    id_token = jwt_claims(tokens["id_token"])
    assert "tax_ids" not in id_token and "org_id" not in id_token
    assert id_token["roles"] == ["billing"]
    assert [(o["name"], o["roles"]) for o in id_token["orgs"]] == [
        ("Alder Clinic", ["administrator", "billing"]),
        ("Birch Billing", ["subscriber", "billing", "clinical"]),
    ]
    assert all("tax_ids" not in org for org in id_token["orgs"])
    async with world.identity.client() as client:
        info = await client.get(
            "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
    assert info.status_code == 200, info.text
    body = info.json()
    assert body["tax_ids"] == ["100000001", "100000002", "200000001"]
    assert [o["tax_ids"] for o in body["orgs"]] == [["100000001", "100000002"], ["200000001"]]


async def test_org_id_selects_one_organizations_context(world: World) -> None:
    birch = world.orgs["Birch Billing"]
    tokens = await user_tokens(world.identity, "multi.biller", org_id=birch)
    assert org_claims(tokens["access_token"]) == {
        "org_id": birch,
        "tax_ids": ["200000001"],
        "roles": ["subscriber", "billing", "clinical"],
    }
    id_token = jwt_claims(tokens["id_token"])
    assert id_token["org_id"] == birch and id_token["org_name"] == "Birch Billing"
    assert "tax_ids" not in id_token


@pytest.mark.parametrize("org", ["Cedar Pediatrics", "Dogwood Surgery"])
async def test_an_organization_that_is_not_active_is_never_selected(world: World, org: str) -> None:
    """No code: TINpass explains instead (web/refusals.py); asked for no page at all, the
    relying party hears `login_required` (there is no subject to sign in)."""
    url = authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new(), org_id=world.orgs[org])
    async with world.identity.client() as browser:
        page = await sign_in(browser, url, "multi.biller", PASSWORD)
        assert page.status_code == 403 and "location" not in page.headers
        assert org in page.text
        silent = await browser.get(f"{url}&prompt=none")
    answer = query_of(silent.headers["location"])
    assert "code" not in answer and answer["error"] == "login_required"


async def test_a_user_only_of_a_pending_organization_gets_no_code(world: World) -> None:
    url = authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new())
    async with world.identity.client() as browser:
        page = await sign_in(browser, url, "pending.only", PASSWORD)
        again = await browser.get(url)
    for answer in (page, again):  # after the password, and with the session
        assert answer.status_code == 403 and "location" not in answer.headers
        assert "Your organization is waiting for verification" in answer.text
    async with world.identity.session() as session:
        reasons = list(
            await session.scalars(
                select(AuditEvent.details).where(AuditEvent.event == "authorization.refused")
            )
        )
    assert {"client_id": PORTAL, "reason": "organization_pending_verification"} in reasons


async def test_refresh_keeps_the_selection_and_drops_a_removed_tin(world: World) -> None:
    identity = world.identity
    multi = await user_tokens(identity, "refresh.biller")
    birch = world.orgs["Birch Billing"]
    selected = await user_tokens(identity, "refresh.biller", org_id=birch)
    alder = await user_tokens(identity, "refresh.biller", org_id=world.orgs["Alder Clinic"])
    await revoke_tin_grant(world, "refresh.biller", "Alder Clinic", "100000002")

    after = org_claims((await refresh(identity, multi["refresh_token"]))["access_token"])
    assert "org_id" not in after and after["tax_ids"] == ["100000001", "200000001"]
    assert [o["tax_ids"] for o in after["orgs"]] == [["100000001"], ["200000001"]]

    kept = await refresh(identity, selected["refresh_token"])
    assert org_claims(kept["access_token"]) == {
        "org_id": birch,
        "tax_ids": ["200000001"],
        "roles": ["subscriber", "billing"],
    }, "a token asked for Birch stays Birch's"
    again = await refresh(identity, kept["refresh_token"])
    assert org_claims(again["access_token"])["org_id"] == birch

    alder_after = org_claims((await refresh(identity, alder["refresh_token"]))["access_token"])
    assert alder_after["org_id"] == world.orgs["Alder Clinic"]
    assert alder_after["tax_ids"] == ["100000001"], "the removed TIN never comes back"
