"""Plan roles are one list (`policy.PLAN_ROLES`): the admin API, the console,
nominations and the seed/CLI accept no other, and tokens carry no other."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, update

from identity import admin_ops
from identity.models import Membership, Nomination
from identity.plan_roles import UnknownPlanRole
from policy import PLAN_ROLES
from tests.identity.admin_flows import admin_token, bearer, org_id_of, user_id_of
from tests.identity.flows import portal_tokens
from tests.identity.harness import PASSWORD, IdentityHarness
from tests.support.oidc import jwt_claims, submit_login

EVERGREEN = "Evergreen Family Clinic"
NOT_PLAN_ROLES = [["administrator"], ["operator"], ["billing", "<b>x</b>"], ["integrator"]]


@pytest.mark.parametrize("roles", NOT_PLAN_ROLES)
async def test_admin_api_refuses_undefined_plan_roles(
    identity: IdentityHarness, roles: list[str]
) -> None:
    token, org = await admin_token(identity, "ever.admin"), await org_id_of(identity, EVERGREEN)
    sam = await user_id_of(identity, "sam.biller")
    async with identity.client(headers=bearer(token)) as api:
        changed = await api.patch(
            f"/api/v1/organizations/{org}/members/{sam}", json={"plan_roles": roles}
        )
        nominated = await api.post(
            f"/api/v1/organizations/{org}/nominations",
            json={"email": "pat@evergreen.example", "plan_roles": roles},
        )
    for answer in (changed, nominated):
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["field"] == "plan_roles"
        assert "billing, clinical" in answer.json()["detail"]
    async with identity.session() as session:
        kept = await session.scalar(select(Membership.plan_roles).where(Membership.user_id == sam))
        invited = await session.scalar(
            select(Nomination.id).where(Nomination.email == "pat@evergreen.example")
        )
    assert kept == ["billing"] and invited is None


async def test_console_refuses_undefined_plan_roles_with_a_form_error(
    identity: IdentityHarness,
) -> None:
    org, sam = await org_id_of(identity, EVERGREEN), await user_id_of(identity, "sam.biller")
    async with identity.client() as browser:
        await submit_login(browser, await browser.get("/login"), "ever.admin", PASSWORD)
        page = await browser.get(f"/console/orgs/{org}")
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert found
        offered = set(re.findall(r'name="plan_roles" value="([^"]+)"', page.text))
        changed = await browser.post(
            f"/console/orgs/{org}/members/{sam}",
            data={"csrf_token": found.group(1), "plan_roles": ["billing", "operator"]},
        )
        nominated = await browser.post(
            f"/console/orgs/{org}/nominations",
            data={
                "csrf_token": found.group(1),
                "email": "pat@evergreen.example",
                "plan_roles": "administrator",
            },
        )
    assert offered == set(PLAN_ROLES), "the console offers exactly the plans' roles"
    for answer in (changed, nominated):
        assert answer.status_code == 422 and "Each plan role is one of" in answer.text


async def test_seed_and_cli_path_refuses_undefined_plan_roles(identity: IdentityHarness) -> None:
    org, hana = await org_id_of(identity, EVERGREEN), await user_id_of(identity, "hana.harb")
    async with identity.session() as session:
        with pytest.raises(UnknownPlanRole):
            await admin_ops.add_membership(session, hana, org, "subscriber", [], ["operator"])
        await session.rollback()


async def test_tokens_carry_only_defined_plan_roles_even_from_old_rows(
    identity: IdentityHarness,
) -> None:
    hana = await user_id_of(identity, "hana.harb")
    async with identity.session() as session:
        await session.execute(
            update(Membership)
            .where(Membership.user_id == hana)
            .values(plan_roles=["billing", "administrator", "<script>"])
        )
        await session.commit()
    claims = jwt_claims((await portal_tokens(identity, "hana.harb"))["access_token"])
    assert sorted(claims["roles"]) == ["billing", "subscriber"]
