"""Authorization in one place: every admin route, walked as an administrator of
another organization and as a subscriber, answers 404 for Evergreen's things."""

from __future__ import annotations

import pytest
from starlette.routing import Route

from identity.admin import api as admin_api
from identity.admin import clients_api as admin_clients
from tests.identity.admin_flows import admin_token, bearer, org_id_of, user_id_of
from tests.identity.harness import IdentityHarness

BODIES = {
    "/tax-ids": {"tin": "44-5556666", "legal_name": "Intruder", "attest": True},
    "/sub-organizations": {"name": "Intruder"},
    "/nominations": {"email": "x@example.org"},
    "/members/{user_id}": {"role": "administrator"},
    "/clients": {"name": "Intruder", "tax_ids": ["12-3456789"]},
    "/clients/{client_id}": {"tax_ids": ["12-3456789"]},
    "/clients/{client_id}/jwks": {"keys": []},
}
ROUTERS = (admin_api.router, admin_clients.router)


def admin_routes() -> list[tuple[str, str]]:
    found = []
    for router in ROUTERS:
        for route in router.routes:
            assert isinstance(route, Route)
            for method in sorted(route.methods or ()):
                found.append((method, route.path))
    return found


def test_the_walk_covers_the_admin_api() -> None:
    assert len(admin_routes()) >= 14
    clients = {(m, p) for m, p in admin_routes() if "/clients" in p}
    assert len(clients) == 7, clients


@pytest.mark.parametrize("outsider", ["hana.harb", "sam.biller"])
async def test_outsiders_get_404_on_every_admin_route(
    identity: IdentityHarness, outsider: str
) -> None:
    if outsider == "hana.harb":
        async with identity.session() as session:
            from sqlalchemy import update

            from identity.models import Membership, User

            hana = await user_id_of(identity, "hana.harb")
            await session.execute(
                update(Membership).where(Membership.user_id == hana).values(role="administrator")
            )
            await session.execute(update(User).where(User.id == hana).values(status="active"))
            await session.commit()
    token = await admin_token(identity, outsider)
    values = {
        "org_id": await org_id_of(identity, "Evergreen Family Clinic"),
        "user_id": await user_id_of(identity, "ever.admin"),
        "tin": "123456789",
        "nomination_id": "any",
        "client_id": "acme-curl",
    }
    async with identity.client(headers=bearer(token)) as api:
        for method, path in admin_routes():
            url = path.format(**values)
            suffix = path.removeprefix("/api/v1/organizations/{org_id}")
            response = await api.request(method, url, json=BODIES.get(suffix, {}))
            assert response.status_code == 404, (method, path, response.status_code, response.text)
            assert response.json()["detail"] == "No organization was found that you administer."


async def test_no_token_or_no_admin_scope(identity: IdentityHarness) -> None:
    org = await org_id_of(identity, "Evergreen Family Clinic")
    from tests.identity.flows import portal_tokens

    portal = (await portal_tokens(identity, "ever.admin"))["access_token"]
    async with identity.client() as api:
        anonymous = await api.get(f"/api/v1/organizations/{org}")
        wrong_scope = await api.get(f"/api/v1/organizations/{org}", headers=bearer(portal))
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"].startswith(
        "Bearer"
    )
    assert wrong_scope.status_code == 401, "a provider-data token is not for identity's admin API"
