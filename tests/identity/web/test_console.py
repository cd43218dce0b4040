"""The console's authorization is the admin API's: an administrator of another
organization, or a subscriber, gets 404 on every console page and action of
Evergreen; a form without its CSRF token changes nothing."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from sqlalchemy import select, update
from starlette.routing import Route

from identity.models import Membership, TaxId, User
from identity.web import console, console_actions, console_clients, console_operator, csrf
from tests.identity.admin_flows import org_id_of, user_id_of
from tests.identity.harness import PASSWORD, IdentityHarness
from tests.support.oidc import jwt_claims, submit_login

EVERGREEN = "Evergreen Family Clinic"


@asynccontextmanager
async def signed_in(identity: IdentityHarness, username: str) -> AsyncIterator[httpx.AsyncClient]:
    async with identity.client() as browser:
        page = await browser.get("/login")
        done = await submit_login(browser, page, username, PASSWORD)
        assert "You are signed in" in done.text, done.text
        yield browser


def console_routes() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    routers = (console.router, console_actions.router, console_clients.router)
    for router in (*routers, console_operator.router):
        for route in router.routes:
            assert isinstance(route, Route)
            found.extend((method, route.path) for method in sorted(route.methods or ()))
    return [(m, p) for m, p in found if "{org_id}" in p and m != "HEAD"]


async def csrf_of(browser: httpx.AsyncClient, path: str = "/account") -> str:
    """The form token a page carries (a console page's is single-use)."""
    page = await browser.get(path)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    return found.group(1) if found else ""


def fresh_token(identity: IdentityHarness, browser: httpx.AsyncClient) -> str:
    """A new single-use console form token for this browser, as a console page's form
    carries (minted here for routes whose pages the signed-in person cannot see)."""
    return csrf.once_token(identity.settings.secret_key, browser.cookies[csrf.COOKIE])


@pytest.mark.parametrize("outsider", ["hana.harb", "sam.biller"])
async def test_outsiders_get_404_on_every_console_route(
    identity: IdentityHarness, outsider: str
) -> None:
    async with identity.session() as session:
        hana = await user_id_of(identity, "hana.harb")
        await session.execute(
            update(Membership).where(Membership.user_id == hana).values(role="administrator")
        )
        await session.commit()
    values = {
        "org_id": await org_id_of(identity, EVERGREEN),
        "user_id": await user_id_of(identity, "ever.admin"),
        "tin": "123456789",
        "nomination_id": "any",
        "verb": "suspend",
        "client_id": "acme-curl",
    }
    routes = console_routes()
    assert len(routes) >= 13
    async with signed_in(identity, outsider) as browser:
        for method, path in routes:
            url = path.format(**values)
            token = fresh_token(identity, browser)
            response = await browser.request(
                method, url, data={"csrf_token": token, "tin": "44-5556666", "name": "X"}
            )
            assert response.status_code == 404, (method, path, response.status_code)


async def test_the_administrator_uses_the_console_and_csrf_is_required(
    identity: IdentityHarness,
) -> None:
    org = await org_id_of(identity, EVERGREEN)
    async with signed_in(identity, "ever.admin") as browser:
        page = await browser.get(f"/console/orgs/{org}")
        assert page.status_code == 200 and "<h1>Evergreen Family Clinic</h1>" in page.text
        forged = await browser.post(f"/console/orgs/{org}/tax-ids", data={"tin": "44-1112222"})
        here = f"/console/orgs/{org}"
        evidence = {"legal_name": "Evergreen Family Clinic PLLC"}
        unattested = await browser.post(
            f"{here}/tax-ids",
            data={**evidence, "csrf_token": await csrf_of(browser, here), "tin": "44-1112222"},
        )
        added = await browser.post(
            f"{here}/tax-ids",
            data={
                **evidence,
                "csrf_token": await csrf_of(browser, here),
                "tin": "44-1112222",
                "attest": "yes",
            },
        )
        bad = await browser.post(
            f"{here}/tax-ids",
            data={
                **evidence,
                "csrf_token": await csrf_of(browser, here),
                "tin": "44-11",
                "attest": "yes",
            },
        )
        shown = await browser.get(f"/console/orgs/{org}")
        review = await browser.get(f"/console/orgs/{org}/access-review.csv")
    assert forged.status_code == 400
    assert unattested.status_code == 422 and "Tick the box to attest" in unattested.text
    assert added.status_code == 303 and added.headers["location"].endswith("done=tin_pending")
    assert "44-1112222" in shown.text and "waiting for verification by TINpass" in shown.text
    assert 'value="44-1112222"' not in shown.text, "no picker offers a TIN waiting for verification"
    assert bad.status_code == 422 and "nine digits" in bad.text
    assert review.headers["content-type"].startswith("text/csv")
    assert review.text.splitlines()[0].startswith("organization,username,name,email,role")
    async with identity.session() as session:
        rows = (await session.scalars(select(TaxId.tin).where(TaxId.tin == "441112222"))).all()
    assert rows == ["441112222"], "the forged form added nothing; the real one added once"


async def test_the_console_asks_for_sign_in_and_hides_the_operator_queue(
    identity: IdentityHarness,
) -> None:
    async with identity.client() as anonymous:
        home = await anonymous.get("/console")
    assert home.status_code == 303 and home.headers["location"] == "/login?next=/console"
    async with signed_in(identity, "ever.admin") as browser:
        queue = await browser.get("/console/operator")
    assert queue.status_code == 403 and "Only TINpass operators" in queue.text
    async with identity.session() as session:
        operator = await session.scalar(select(User).where(User.username == "ops.olivia"))
        assert operator is not None and operator.is_operator


async def test_integrator_clients_in_the_console(identity: IdentityHarness) -> None:
    org = await org_id_of(identity, EVERGREEN)
    clients = f"/console/orgs/{org}/clients"
    async with signed_in(identity, "ever.admin") as browser:
        made = await browser.post(
            clients,
            data={
                "csrf_token": await csrf_of(browser, clients),
                "name": "Nightly batch",
                "tax_ids": ["98-7654321"],
            },
        )
        assert made.status_code == 303, made.text
        shown = await browser.get(made.headers["location"])
        client_id = re.search(r'id="client-id">([^<]+)<', shown.text)
        secret = re.search(r'id="client-secret">([^<]+)<', shown.text)
        assert shown.status_code == 200 and client_id and secret, shown.text
        assert shown.headers["cache-control"] == "no-store"
        listing = await browser.get(clients)
        bad_keys = await browser.post(
            f"{clients}/{client_id.group(1)}/keys",
            data={"csrf_token": await csrf_of(browser, clients), "jwks": "not json"},
        )
    assert "Nightly batch" in listing.text and secret.group(1) not in listing.text
    assert bad_keys.status_code == 422 and "JWKS" in bad_keys.text
    async with identity.client() as client:
        issued = await client.post(
            "/token",
            data={"grant_type": "client_credentials"},
            auth=(client_id.group(1), secret.group(1)),
        )
    assert issued.status_code == 200, issued.text
    assert jwt_claims(issued.json()["access_token"])["tax_ids"] == ["987654321"]
    async with signed_in(identity, "ever.admin") as browser:
        token = await csrf_of(browser, clients)
        deleted = await browser.post(
            f"{clients}/{client_id.group(1)}/delete", data={"csrf_token": token}
        )
    assert deleted.status_code == 303
    async with identity.client() as client:
        refused = await client.post(
            "/token",
            data={"grant_type": "client_credentials"},
            auth=(client_id.group(1), secret.group(1)),
        )
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
