"""Nominating subscribers: the nominee gets a single-use link by e-mail (a real SMTP
server), follows it, chooses a username and password and is active with exactly
the TINs and roles the administrator chose. Resend replaces the link; cancel ends it."""

from __future__ import annotations

import re

import httpx

from tests.identity.admin_flows import admin_token, bearer, org_id_of
from tests.identity.flows import portal_tokens
from tests.identity.harness import IdentityHarness
from tests.support.oidc import jwt_claims
from tests.support.smtp import Inbox

EVERGREEN = "Evergreen Family Clinic"
NEW_PASSWORD = "Nominee.Passw0rd-1"


async def nominate(identity: IdentityHarness, email: str, **extra: object) -> httpx.Response:
    org = await org_id_of(identity, EVERGREEN)
    token = await admin_token(identity, "ever.admin")
    body = {"email": email, "given_name": "Nia", "family_name": "Nominee", **extra}
    async with identity.client(headers=bearer(token)) as api:
        return await api.post(f"/api/v1/organizations/{org}/nominations", json=body)


async def accept(identity: IdentityHarness, link: str, username: str) -> httpx.Response:
    path = link.removeprefix(identity.settings.issuer)
    async with identity.client() as browser:
        page = await browser.get(path)
        if page.status_code != 200:
            return page
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        token = re.search(r'name="token" value="([^"]+)"', page.text)
        assert csrf and token
        form = {"csrf_token": csrf.group(1), "token": token.group(1)}
        return await browser.post(
            "/nominations/accept",
            data={**form, "username": username, "password": NEW_PASSWORD},
        )


async def test_nominee_follows_the_link_once_and_gets_exactly_the_chosen_tins(
    mailing: tuple[IdentityHarness, Inbox],
) -> None:
    identity, inbox = mailing
    made = await nominate(
        identity, "nia@evergreen.example", tax_ids=["98-7654321"], plan_roles=["clinical"]
    )
    assert made.status_code == 201, made.text
    message = inbox.to("nia@evergreen.example")[-1]
    assert "invite" in message["Subject"]
    link = inbox.link(message)
    joined = await accept(identity, link, "nia.nom")
    assert joined.status_code == 200 and "Your account is ready" in joined.text
    reused = await accept(identity, link, "nia.nom2")
    assert reused.status_code == 400, "the link works once"
    claims = jwt_claims((await portal_tokens(identity, "nia.nom", NEW_PASSWORD))["access_token"])
    assert claims["tax_ids"] == ["987654321"]
    assert sorted(claims["roles"]) == ["clinical", "subscriber"]


async def test_resend_replaces_the_link_and_cancel_ends_it(
    mailing: tuple[IdentityHarness, Inbox],
) -> None:
    identity, inbox = mailing
    made = (await nominate(identity, "omar@evergreen.example")).json()
    first = inbox.link(inbox.to("omar@evergreen.example")[-1])
    org = await org_id_of(identity, EVERGREEN)
    admin = bearer(await admin_token(identity, "ever.admin"))
    async with identity.client(headers=admin) as api:
        resent = await api.post(f"/api/v1/organizations/{org}/nominations/{made['id']}/resend")
        assert resent.status_code == 200
        second = inbox.link(inbox.to("omar@evergreen.example")[-1])
        assert second != first
        assert (await accept(identity, first, "omar.o")).status_code == 400
        cancelled = await api.delete(f"/api/v1/organizations/{org}/nominations/{made['id']}")
    assert cancelled.status_code == 204
    assert (await accept(identity, second, "omar.o")).status_code == 400


async def test_a_nomination_with_a_tin_outside_the_organization_is_refused(
    mailing: tuple[IdentityHarness, Inbox],
) -> None:
    identity, inbox = mailing
    refused = await nominate(identity, "zed@evergreen.example", tax_ids=["55-5000111"])
    assert refused.status_code == 422 and "55-5000111" in refused.json()["detail"]
    assert inbox.to("zed@evergreen.example") == []
