"""Ways in, in plain words: the front page (GET /), the first administrator's own plan
roles (at registration, or the console's prompt while she has none), and invitations
(the join page names the organization and what it grants; a refused password keeps the
username; the welcome page says where to go; an empty invitation warns its sender)."""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from identity import mfa
from identity.models import AuditEvent, Membership
from tests.identity.admin.test_registration import application, submit
from tests.identity.admin_flows import org_id_of, user_id_of
from tests.identity.harness import IdentityHarness, mailing_identity
from tests.identity.web.test_console import EVERGREEN, csrf_of, signed_in
from tests.support.oidc import followed, form_fields
from tests.support.smtp import Inbox

NEW_PASSWORD = "Joiner.Passw0rd-31"


@pytest.fixture(scope="module")
async def mailing(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[IdentityHarness, Inbox]]:
    async with mailing_identity(tmp_path_factory.mktemp("entry")) as running:
        yield running


async def test_the_front_page_knows_who_is_there(mailing: tuple[IdentityHarness, Inbox]) -> None:
    identity, _ = mailing
    async with identity.client() as visitor:
        page = await visitor.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for href in ('href="/login"', 'href="/register"', 'href="/forgot-password"'):
        assert href in page.text
    assert "Your account" not in page.text
    async with signed_in(identity, "ever.admin") as admin:
        mine = await admin.get("/")
    assert "Welcome, Eve" in mine.text and "Evergreen Family Clinic" in mine.text
    assert 'href="/console"' in mine.text and 'href="/account"' in mine.text
    assert "12-3456789, 98-7654321" in mine.text and 'href="/logout"' in mine.text
    async with signed_in(identity, "sam.biller") as biller:
        theirs = await biller.get("/")
    assert 'href="/console"' not in theirs.text, "administration only for administrators"


async def test_the_first_administrator_takes_her_plan_roles_at_registration(
    mailing: tuple[IdentityHarness, Inbox],
) -> None:
    identity, _ = mailing
    async with identity.client() as browser:
        form = await browser.get("/register")
        assert "Give me the plan role billing" in form.text
        done = await submit(browser, application(41, plan_role_billing="yes"))
        plain = await submit(browser, application(42))
    assert done.status_code == 200 and plain.status_code == 200
    for number, roles in ((41, ["billing"]), (42, [])):
        org = await org_id_of(identity, f"Lakeside Clinic {number}")
        async with identity.session() as session:
            member = await session.scalar(
                select(Membership).where(Membership.organization_id == org)
            )
            event = await session.scalar(
                select(AuditEvent).where(
                    AuditEvent.event == "organization.registered", AuditEvent.organization_id == org
                )
            )
        assert member is not None and member.plan_roles == roles
        assert event is not None and event.details["after"]["administrator_plan_roles"] == roles


async def test_an_administrator_without_a_plan_role_is_offered_one(
    mailing: tuple[IdentityHarness, Inbox],
) -> None:
    identity, _ = mailing
    org = await org_id_of(identity, EVERGREEN)
    eve = await user_id_of(identity, "ever.admin")
    async with identity.session() as session:
        await session.execute(
            update(Membership).where(Membership.user_id == eve).values(plan_roles=[])
        )
        await session.commit()
    async with signed_in(identity, "ever.admin") as admin:
        prompted = await admin.get(f"/console/orgs/{org}")
        assert "Give yourself a plan role" in prompted.text
        token = await csrf_of(admin, f"/console/orgs/{org}")
        saved = await admin.post(
            f"/console/orgs/{org}/own-plan-roles",
            data={"csrf_token": token, "plan_roles": ["billing", "clinical"]},
        )
        after = await admin.get(saved.headers["location"])
    assert saved.status_code == 303 and "Your plan roles were saved" in after.text
    assert "Give yourself a plan role" not in after.text
    async with identity.session() as session:
        member = await session.scalar(
            select(Membership)
            .where(Membership.user_id == eve)
            .options(selectinload(Membership.tax_ids))
        )
        assert member is not None and member.plan_roles == ["billing", "clinical"]
        tins = sorted(t.tin for t in member.tax_ids)
    assert tins == ["123456789", "987654321"], "her Tax IDs stay as they were"


async def nominate(admin: httpx.AsyncClient, org: str, email: str, **extra: object) -> str:
    form = {
        "csrf_token": await csrf_of(admin, f"/console/orgs/{org}"),
        "email": email,
        "given_name": "Nia",
    }
    made = await admin.post(f"/console/orgs/{org}/nominations", data={**form, **extra})
    assert made.status_code == 303, made.text
    return str((await admin.get(made.headers["location"])).text)


async def test_an_invitation_says_what_it_grants_and_the_welcome_where_to_go(
    mailing: tuple[IdentityHarness, Inbox],
) -> None:
    identity, inbox = mailing
    org = await org_id_of(identity, EVERGREEN)
    async with signed_in(identity, "ever.admin") as admin:
        bare = await nominate(admin, org, "bare@evergreen.example")
        full = await nominate(
            admin, org, "nia@evergreen.example", tax_ids="12-3456789", plan_roles="billing"
        )
    assert "it gives no Tax ID and no plan role" in bare
    assert "The invitation was sent." in full and "no plan role" not in full.split("<h2")[0]

    link = inbox.link(inbox.to("nia@evergreen.example")[-1]).removeprefix(identity.settings.issuer)
    async with identity.client() as browser:
        page = await browser.get(link)
        assert "Join Evergreen Family Clinic on TINpass" in page.text
        assert "for the Tax ID 12-3456789, with the plan role billing" in page.text
        fields = form_fields(page.text)
        fields.pop("__action__")
        weak = await browser.post(
            "/nominations/accept", data={**fields, "username": "nia.n", "password": "short"}
        )
        assert weak.status_code == 400 and 'value="nia.n"' in weak.text
        sent = await browser.post(
            "/nominations/accept", data={**fields, "username": "nia.n", "password": NEW_PASSWORD}
        )
        welcome = await followed(browser, sent, "/nominations/welcome")
        reloaded = await browser.get("/nominations/welcome")  # a reload sends nothing again
    assert welcome.status_code == 200 and "Your account is ready" in welcome.text
    assert reloaded.text == welcome.text
    assert "Your TINpass username is <strong>nia.n</strong>" in welcome.text
    assert 'href="/login"' in welcome.text and "Sign in with TINpass" in welcome.text

    bare_link = inbox.link(inbox.to("bare@evergreen.example")[-1])
    async with identity.client() as browser:
        page = await browser.get(bare_link.removeprefix(identity.settings.issuer))
    assert "for no Tax ID yet" in page.text and "with no plan role yet" in page.text


async def test_a_person_with_an_account_joins_signed_in(
    mailing: tuple[IdentityHarness, Inbox],
) -> None:
    identity, inbox = mailing
    org = await org_id_of(identity, EVERGREEN)
    async with signed_in(identity, "ever.admin") as admin:
        await nominate(admin, org, "hana@harborbilling.example", plan_roles="clinical")
    link = inbox.link(inbox.to("hana@harborbilling.example")[-1])
    async with signed_in(identity, "hana.harb") as hana:
        page = await hana.get(link.removeprefix(identity.settings.issuer))
        assert "You are signed in as hana.harb." in page.text
        assert "Evergreen Family Clinic invites you" in page.text
        fields = form_fields(page.text)
        action = fields.pop("__action__")
        joined = await followed(hana, await hana.post(action, data=fields), "/nominations/welcome")
    assert joined.status_code == 200 and "You joined Evergreen Family Clinic" in joined.text
    assert "You are signed in to TINpass already" in joined.text
    assert re.search(r"will not show you eligibility or claims", joined.text)


def test_the_qr_code_is_an_svg_document_a_browser_draws() -> None:
    """Without its namespace an SVG image is no SVG to a browser (natural width 0); the
    browser test decodes the drawn code (test_entry_browser.py)."""
    uri = mfa.qr_data_uri("otpauth://totp/TINpass:sam?secret=JBSWY3DPEHPK3PXP&issuer=TINpass")
    svg = base64.b64decode(uri.removeprefix("data:image/svg+xml;base64,")).decode()
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg" width=')
