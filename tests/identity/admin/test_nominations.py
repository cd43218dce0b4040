"""Nominating subscribers: the nominee gets a single-use link by e-mail (a real SMTP
server), follows it, chooses a username and password and is active with exactly
the TINs and roles the administrator chose. Resend replaces the link; cancel ends it."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select

from identity.models import Membership, Organization, User
from tests.identity.admin_flows import admin_token, bearer, org_id_of, user_id_of
from tests.identity.flows import exchange_portal_code, portal_code, portal_tokens
from tests.identity.harness import PASSWORD, IdentityHarness
from tests.support.oidc import followed, form_fields, jwt_claims, submit_login
from tests.support.smtp import Inbox

EVERGREEN = "Evergreen Family Clinic"
NEW_PASSWORD = "Nominee.Passw0rd-1"


async def nominate(identity: IdentityHarness, email: str, **extra: object) -> httpx.Response:
    org = await org_id_of(identity, EVERGREEN)
    token = await admin_token(identity, "ever.admin")
    body = {"email": email, "given_name": "Nia", "family_name": "Nominee", **extra}
    async with identity.client(headers=bearer(token)) as api:
        return await api.post(f"/api/v1/organizations/{org}/nominations", json=body)


WELCOME = "/nominations/welcome"


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
        answer = await browser.post(
            "/nominations/accept",
            data={**form, "username": username, "password": NEW_PASSWORD},
        )
        if not answer.is_redirect:
            return answer
        return await followed(browser, answer, "/nominations/welcome")


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


async def test_a_person_with_an_account_joins_with_it(
    mailing: tuple[IdentityHarness, Inbox],
) -> None:
    """One e-mail address, one account: a biller of Harbor invited by Evergreen signs in
    with her account and joins; she then works for both organizations."""
    identity, inbox = mailing
    made = await nominate(identity, "hana@harborbilling.example", tax_ids=["12-3456789"])
    assert made.status_code == 201
    path = inbox.link(inbox.to("hana@harborbilling.example")[-1])
    path = path.removeprefix(identity.settings.issuer)
    async with identity.client() as browser:
        anonymous = await browser.get(path)
        assert "already have a TINpass account" in anonymous.text
        page = await browser.get("/login")
        assert (
            "You are signed in" in (await submit_login(browser, page, "hana.harb", PASSWORD)).text
        )
        offer = await browser.get(path)
        assert offer.status_code == 200 and "Join Evergreen Family Clinic" in offer.text
        fields = form_fields(offer.text)
        action = fields.pop("__action__")
        joined = await followed(browser, await browser.post(action, data=fields), WELCOME)
        again = await browser.post(action, data=fields)
    assert joined.status_code == 200 and "You joined Evergreen Family Clinic" in joined.text
    assert again.status_code == 400, "the link works once"
    async with identity.session() as session:
        orgs = await session.scalars(
            select(Organization.name)
            .join(Membership, Membership.organization_id == Organization.id)
            .join(User, User.id == Membership.user_id)
            .where(User.username == "hana.harb")
        )
        assert sorted(orgs) == ["Evergreen Family Clinic", "Harbor Billing Services"]
    evergreen = await org_id_of(identity, EVERGREEN)
    async with identity.client() as browser:
        code, pkce = await portal_code(identity, browser, "hana.harb", org_id=evergreen)
        assert pkce is not None
        tokens = (await exchange_portal_code(identity, browser, code, pkce.verifier)).json()
    claims = jwt_claims(tokens["access_token"])
    assert claims["org_id"] == evergreen and claims["tax_ids"] == ["123456789"]


async def test_an_administrator_sends_a_reset_link_and_never_sees_a_password(
    mailing: tuple[IdentityHarness, Inbox],
) -> None:
    identity, inbox = mailing
    org = await org_id_of(identity, EVERGREEN)
    sam = await user_id_of(identity, "sam.biller")
    admin = bearer(await admin_token(identity, "ever.admin"))
    async with identity.client(headers=admin) as api:
        sent = await api.post(f"/api/v1/organizations/{org}/members/{sam}/password-reset")
    assert sent.status_code == 202 and sent.json() == {"status": "sent"}
    link = inbox.link(inbox.to("sam.biller@evergreen.example")[-1])
    async with identity.client() as browser:
        page = await browser.get(link.removeprefix(identity.settings.issuer))
        fields = form_fields(page.text)
        action = fields.pop("__action__")
        new = "Chosen by Sam himself 42"
        done = await browser.post(action, data={**fields, "password": new, "confirm": new})
    assert done.status_code == 200 and "password is set" in done.text
    assert (await portal_tokens(identity, "sam.biller", new))["access_token"]
