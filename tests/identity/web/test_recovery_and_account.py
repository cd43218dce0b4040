"""Forgot password and username, the account page, e-mail change, sessions; mail
received by a real SMTP server, links followed."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pyotp
import pytest
from sqlalchemy import select, update

from identity import mfa
from identity.models import ActionToken, AuditEvent, Organization, User
from identity.security import hash_password
from tests.identity.harness import (
    PASSWORD,
    PORTAL,
    PORTAL_REDIRECT,
    IdentityHarness,
    mailing_identity,
)
from tests.identity.web.test_login import post_form
from tests.support.oidc import Pkce, authorize_url, form_fields, sign_in
from tests.support.smtp import Inbox

SAM_MAIL = "sam.biller@evergreen.example"
FIREFOX_ON_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
)


@pytest.fixture(scope="module")
async def mailing(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[IdentityHarness, Inbox]]:
    async with mailing_identity(tmp_path_factory.mktemp("mail")) as (identity, inbox):
        yield identity, inbox


def path_of(link: str) -> str:
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


async def signed_in(
    identity: IdentityHarness, browser: httpx.AsyncClient, username: str, password: str
) -> None:
    response = await sign_in(
        browser, authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new()), username, password
    )
    assert response.status_code == 302, response.text


async def test_forgot_password_answers_the_same_and_mails_only_real_accounts(
    mailing: tuple[IdentityHarness, Inbox],
) -> None:
    identity, inbox = mailing
    async with identity.client() as browser:
        form = await browser.get("/forgot-password")
        real = await post_form(browser, form, login="sam.biller")
        form = await browser.get("/forgot-password")
        fake = await post_form(browser, form, login="nobody.here")
    await identity.recovery_mail_sent()
    assert real.status_code == fake.status_code == 200
    assert real.text == fake.text
    assert len(inbox.to(SAM_MAIL)) == 1 and len(inbox.messages) == 1


async def test_reset_link_works_once_checks_policy_and_ends_sessions(
    mailing: tuple[IdentityHarness, Inbox],
) -> None:
    identity, inbox = mailing
    async with identity.client() as old_browser:
        await signed_in(identity, old_browser, "sam.biller", PASSWORD)
        async with identity.client() as browser:
            form = await browser.get("/forgot-password")
            await post_form(browser, form, login=SAM_MAIL)
            await identity.recovery_mail_sent()
            link = path_of(inbox.link(inbox.to(SAM_MAIL)[-1]))
            page = await browser.get(link)
            weak = await post_form(browser, page, password="short", confirm="short")
            assert weak.status_code == 400 and "at least 15 characters" in weak.text
            done = await post_form(
                browser,
                weak,
                password="A brand new passphrase 7",
                confirm="A brand new passphrase 7",
            )
            assert done.status_code == 200 and "password is set" in done.text
            again = await browser.get(link)
            assert again.status_code == 400, "a reset link works once"
        old_session = await old_browser.get(authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new()))
        assert 'name="password"' in old_session.text, "the reset ended every session"
        await signed_in(identity, old_browser, "sam.biller", "A brand new passphrase 7")


async def test_reset_links_expire_after_thirty_minutes(
    mailing: tuple[IdentityHarness, Inbox],
) -> None:
    identity, inbox = mailing
    assert identity.settings.reset_link_ttl == 30 * 60
    async with identity.client() as browser:
        form = await browser.get("/forgot-password")
        await post_form(browser, form, login="ever.admin")
        await identity.recovery_mail_sent()
        link = path_of(inbox.link(inbox.to("eve.admin@evergreen.example")[-1]))
        async with identity.session() as session:
            await session.execute(
                update(ActionToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
            await session.commit()
        page = await browser.get(link)
    assert page.status_code == 400 and "expired" in page.text


async def test_forgot_username_goes_to_the_accounts_address_only(
    mailing: tuple[IdentityHarness, Inbox],
) -> None:
    identity, inbox = mailing
    before = len(inbox.messages)
    async with identity.client() as browser:
        form = await browser.get("/forgot-username")
        known = await post_form(browser, form, email="HANA@harborbilling.example")
        form = await browser.get("/forgot-username")
        unknown = await post_form(browser, form, email="stranger@example.org")
    await identity.recovery_mail_sent()
    assert known.text == unknown.text
    assert len(inbox.messages) == before + 1
    assert "hana.harb" in inbox.body(inbox.to("hana@harborbilling.example")[-1])


async def test_change_password_needs_the_current_one_and_keeps_this_session(
    mailing: tuple[IdentityHarness, Inbox],
) -> None:
    identity, _ = mailing
    async with identity.client() as other, identity.client() as browser:
        await signed_in(identity, other, "hana.harb", PASSWORD)
        await signed_in(identity, browser, "hana.harb", PASSWORD)
        form = await browser.get("/account/password")
        wrong = await post_form(
            browser,
            form,
            current="not-it",
            password="Another passphrase 99",
            confirm="Another passphrase 99",
        )
        assert wrong.status_code == 400 and "current password is not right" in wrong.text
        reused = await post_form(
            browser,
            wrong,
            current=PASSWORD,
            password="hana.harb is me 12345",
            confirm="hana.harb is me 12345",
        )
        assert "may not contain your username" in reused.text
        ok = await post_form(
            browser,
            reused,
            current=PASSWORD,
            password="Another passphrase 99",
            confirm="Another passphrase 99",
        )
        assert ok.status_code == 200 and "password is changed" in ok.text
        still_in = await browser.get(authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new()))
        other_out = await other.get(authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new()))
    assert still_in.status_code == 302
    assert 'name="password"' in other_out.text


async def test_change_email_confirms_at_the_new_address_and_tells_the_old(
    mailing: tuple[IdentityHarness, Inbox],
) -> None:
    identity, inbox = mailing
    async with identity.client() as browser:
        await signed_in(identity, browser, "ever.admin", PASSWORD)
        form = await browser.get("/account/email")
        sent = await post_form(browser, form, email="eve@evergreen-new.example", current=PASSWORD)
        assert "confirmation link" in sent.text
        notice = inbox.to("eve.admin@evergreen.example")[-1]
        assert "being changed" in notice["Subject"]
        opened = await browser.get(path_of(inbox.link(inbox.to("eve@evergreen-new.example")[-1])))
        async with identity.session() as session:
            unchanged = await session.scalar(select(User).where(User.username == "ever.admin"))
        assert unchanged is not None and unchanged.email == "eve.admin@evergreen.example", (
            "opening the link only asks"
        )
        confirm = await post_form(browser, opened)
    assert confirm.status_code == 200
    async with identity.session() as session:
        user = await session.scalar(select(User).where(User.username == "ever.admin"))
        event = await session.scalar(select(AuditEvent).where(AuditEvent.event == "email.changed"))
    assert user is not None and user.email == "eve@evergreen-new.example"
    assert event is not None and event.details["before"] == "eve.admin@evergreen.example"


async def test_sessions_are_listed_and_sign_out_everywhere(
    mailing: tuple[IdentityHarness, Inbox],
) -> None:
    identity, _ = mailing
    async with (
        identity.client() as phone,
        identity.client(headers={"User-Agent": FIREFOX_ON_WINDOWS}) as desk,
    ):
        await signed_in(identity, phone, "ever.admin", PASSWORD)
        await signed_in(identity, desk, "ever.admin", PASSWORD)
        page = await desk.get("/account")
        assert "Firefox on Windows <strong>(this browser)</strong>" in page.text
        everywhere = form_fields(page.text, page.text.count("<form") - 1)
        assert everywhere.pop("__action__") == "/account/sessions/end-all"
        done = await desk.post("/account/sessions/end-all", data=everywhere)
        assert "signed out" in done.text
        phone_after = await phone.get(authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new()))
        desk_after = await desk.get("/account")
    assert 'name="password"' in phone_after.text
    assert desk_after.status_code == 303
    assert desk_after.headers["location"] == "/login?next=/account"


async def test_account_page_requires_a_session_and_forms_require_csrf(
    mailing: tuple[IdentityHarness, Inbox],
) -> None:
    identity, _ = mailing
    async with identity.client() as browser:
        assert (await browser.get("/account")).status_code == 303
        await signed_in(identity, browser, "ever.admin", PASSWORD)
        forged = await browser.post("/account/sessions/end-all", data={"csrf_token": "forged"})
        still = await browser.get("/account")
    assert forged.status_code == 303 and still.status_code == 200


async def test_self_service_mfa_and_regenerated_recovery_codes(
    mailing: tuple[IdentityHarness, Inbox],
) -> None:
    identity, _ = mailing
    async with identity.client() as browser:
        await signed_in(identity, browser, "ever.admin", PASSWORD)
        page = await browser.get("/account/mfa")
        assert 'id="mfa-state">off<' in page.text and 'name="current"' not in page.text, (
            "a sign-in moments ago is recent enough"
        )
        enroll = await post_form(browser, page)
        secret = re.search(r'<code id="secret">([A-Z2-7]+)</code>', enroll.text)
        assert secret
        shown = await post_form(browser, enroll, code=pyotp.TOTP(secret.group(1)).now())
        first = re.findall(r"<li><code>([0-9a-f-]{11})</code></li>", shown.text)
        account = await browser.get("/account")
        assert "on (10 recovery codes left)" in account.text
        page = await browser.get("/account/mfa")
        regenerated = await browser.post(
            "/account/recovery-codes",
            data={"csrf_token": form_fields(page.text, 1)["csrf_token"]},
        )
        second = re.findall(r"<li><code>([0-9a-f-]{11})</code></li>", regenerated.text)
    assert len(first) == len(second) == 10 and not set(first) & set(second)
    async with identity.session() as session:
        user = await session.scalar(select(User).where(User.username == "ever.admin"))
        assert user is not None and user.mfa_enabled
        assert not await mfa.use_recovery_code(session, user, first[0]), "old codes are replaced"
        assert await mfa.use_recovery_code(session, user, second[0])
        await session.rollback()


async def test_an_organizations_policy_overrides_the_deployments(
    mailing: tuple[IdentityHarness, Inbox],
) -> None:
    identity, _ = mailing
    async with identity.session() as session:
        await session.execute(
            update(Organization)
            .where(Organization.name == "Harbor Billing Services")
            .values(password_policy="payer-classic")
        )
        await session.execute(
            update(User)
            .where(User.username == "hana.harb")
            .values(password_hash=hash_password(PASSWORD), locked_until=None, failed_logins=0)
        )
        await session.commit()
    async with identity.client() as browser:
        await signed_in(identity, browser, "hana.harb", PASSWORD)
        form = await browser.get("/account/password")
        spaced = await post_form(
            browser, form, current=PASSWORD, password="Has spaces 1", confirm="Has spaces 1"
        )
        assert "may not contain spaces" in spaced.text, "payer-classic forbids spaces"
        short = await post_form(
            browser, spaced, current=PASSWORD, password="Short.1x", confirm="Short.1x"
        )
    assert short.status_code == 200 and "password is changed" in short.text, (
        "8 characters pass payer-classic"
    )
