"""In a real browser (Playwright driving Debian's chromium), each page checked with
axe-core and kept as a screenshot: the account page's sessions and signing out of
another browser's session; the operators' organization and people searches, the
queue's evidence and the audit trail's filters."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from deploy.stack import free_port
from identity import admin_ops
from identity import tin_verification as tins
from identity.models import Organization, User
from tests.identity.harness import PASSWORD, IdentityHarness, running_identity
from tests.support.a11y import assert_accessible
from tests.support.browser import SCREENSHOTS, browser_page, launched_browser
from tests.support.servers import serve

FIREFOX_ON_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
)


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    tmp = tmp_path_factory.mktemp("account-ops")
    async with running_identity(tmp, issuer=issuer) as identity, serve(identity.app, port):
        await waiting_requests(identity)
        yield issuer


async def waiting_requests(identity: IdentityHarness) -> None:
    """A registration and a TIN of a verified organization, both waiting for an operator."""
    async with identity.session() as session:
        hana = await session.scalar(select(User.id).where(User.username == "hana.harb"))
        harbor = await session.scalar(
            select(Organization).where(Organization.name == "Harbor Billing Services")
        )
        assert hana is not None and harbor is not None
        pending = await admin_ops.create_organization(session, "Pending Dental")
        pending.status = "pending_verification"
        pending.street, pending.city, pending.state = "2 Shore Road", "Olympia", "WA"
        pending.postal_code, pending.phone, pending.npis = "98501", "360 555 0142", ["1234567893"]
        for org, tin, name in (
            (pending, "445556667", "Pending Dental LLC"),
            (harbor, "661234567", "Harbor Billing LLC"),
        ):
            await tins.request(session, org, tin, "", tins.Evidence(name, True), hana)
        await session.commit()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with launched_browser() as launched:
        yield launched


async def sign_in(page: Page, issuer: str, username: str) -> None:
    await page.goto(f"{issuer}/login")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("heading", name="You are signed in").wait_for()


async def test_signing_out_another_browser_from_the_account_page(
    world: str, browser: Browser
) -> None:
    firefox = await browser.new_context(user_agent=FIREFOX_ON_WINDOWS)
    try:
        desk = await firefox.new_page()
        await sign_in(desk, world, "sam.biller")
        async with browser_page(browser, "account-sessions") as phone:
            await sign_in(phone, world, "sam.biller")
            await phone.goto(f"{world}/account")
            sessions = phone.locator("#sessions")
            await expect(sessions.get_by_role("rowheader")).to_have_text(
                ["Chrome on Linux (this browser)", "Firefox on Windows"]
            )
            await expect(phone.locator("#mfa-summary")).to_contain_text("optional")
            await assert_accessible(phone, "account_sessions")
            await phone.get_by_role(
                "button", name=re.compile("^Sign out Firefox on Windows")
            ).click()
            await expect(phone.get_by_role("status")).to_contain_text("That session is signed out")
            await expect(sessions.get_by_role("rowheader")).to_have_text(
                ["Chrome on Linux (this browser)"]
            )
            await assert_accessible(phone, "account_session_signed_out")
        await desk.goto(f"{world}/account")
        await expect(desk).to_have_url(re.compile(r"/login\?next=/account$"))
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await desk.screenshot(path=str(SCREENSHOTS / "account-signed-out-elsewhere.png"))
    finally:
        await firefox.close()


async def test_operator_lists_evidence_and_audit_trail(world: str, browser: Browser) -> None:
    async with browser_page(browser, "operator-pages") as page:
        await sign_in(page, world, "ops.olivia")
        await page.goto(f"{world}/console/operator")
        registration = page.locator("section.card", has_text="Pending Dental").first
        await expect(registration.locator("dd time").first).to_have_attribute(
            "datetime", re.compile(r"\+00:00$")
        )
        await expect(registration).to_contain_text("Pending Dental LLC")
        await assert_accessible(page, "operator_queue_evidence")
        nav = page.get_by_role("navigation", name="Operator pages")
        await nav.get_by_role("link", name="Organizations").click()
        await page.get_by_label("Name or Tax ID").fill("evergreen")
        await page.get_by_role("button", name="Search").click()
        await expect(page.locator("#organizations").get_by_role("rowheader")).to_have_text(
            ["Evergreen Family Clinic"]
        )
        await assert_accessible(page, "operator_organizations")
        await nav.get_by_role("link", name="People").click()
        await page.get_by_label("Name, username, e-mail address or Tax ID").fill("55-5000111")
        await page.get_by_role("button", name="Search").click()
        await expect(page.locator("#people").get_by_role("rowheader")).to_have_text(["Hana Haruki"])
        await assert_accessible(page, "operator_people")
        await page.get_by_role("link", name="Events of hana.harb").click()
        await expect(page.get_by_text("Matches hana.harb.")).to_be_visible()
        await page.get_by_label("Event").select_option("membership.created")
        await page.get_by_role("button", name="Show events").click()
        rows = page.locator("#events").get_by_role("rowheader")
        await expect(rows).to_have_text(["membership.created"])
        await assert_accessible(page, "operator_audit")
