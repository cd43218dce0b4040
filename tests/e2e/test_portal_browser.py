"""The plans' portals in a real browser (chromium headless, driven by Playwright).

Two plans run, each a gateway with its own portal, database and provider records:
Cascade Health Plan has records for both Evergreen TINs; Summit Health Plan only
for Evergreen Pediatrics (98-7654321). One TINpass login opens both portals.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator

import pyotp
import pytest
from playwright.async_api import Browser, Page, expect

from deploy.stack import Stack
from tests.support.browser import browser_page, launched_browser

pytestmark = pytest.mark.e2e

PASSWORD = "Demo.Passw0rd-2026"


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with launched_browser() as launched:
        yield launched


def cascade(stack: Stack) -> str:
    return stack.url("gateway")


def summit(stack: Stack) -> str:
    return stack.url("summit-gateway")


async def portal_cookie(page: Page) -> str:
    cookies = await page.context.cookies()
    return next(c["value"] for c in cookies if c["name"] == "portal_session")


async def sign_in(page: Page, portal: str, username: str) -> None:
    """From the portal's start page through TINpass's login form and back."""
    await page.goto(portal + "/portal/")
    await page.get_by_role("link", name="Sign in with TINpass").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    before = await portal_cookie(page)  # the session that holds the sign-in state
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(re.compile(re.escape(portal) + "/portal/"))
    assert await portal_cookie(page) != before  # a new session id once signed in


async def test_sign_in_shows_who_and_which_tins_match(two_plans: Stack, browser: Browser) -> None:
    async with browser_page(browser, "portal_sign_in_home") as page:
        await sign_in(page, cascade(two_plans), "ever.admin")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Eve Alvarez")
        table = page.get_by_role("table", name=re.compile("Tax IDs your account acts for"))
        await expect(table.get_by_role("row", name=re.compile("12-3456789"))).to_contain_text(
            "matches"
        )
        await expect(table.get_by_role("row", name=re.compile("98-7654321"))).to_contain_text(
            "matches"
        )
        await expect(page.get_by_text("Evergreen Family Clinic").first).to_be_visible()
        cookies = await page.context.cookies()
        portal_cookie = next(c for c in cookies if c["name"] == "portal_session")
        assert portal_cookie["httpOnly"] and portal_cookie["sameSite"] == "Lax"
        assert "eyJ" not in portal_cookie["value"]  # an opaque id, no token


async def test_eligibility_check_shows_coverage_and_benefits(
    two_plans: Stack, browser: Browser
) -> None:
    async with browser_page(browser, "portal_eligibility") as page:
        await sign_in(page, cascade(two_plans), "sam.biller")
        await page.get_by_role("link", name="Eligibility", exact=True).click()
        await page.get_by_label("Member ID").fill("M1000101")
        await page.get_by_label("Member's date of birth").fill("1985-04-12")
        await page.get_by_role("button", name="Check eligibility").click()
        await expect(page.get_by_role("heading", name=re.compile("Result"))).to_contain_text(
            "Active"
        )
        await expect(page.get_by_role("heading", name="Benefits", exact=True)).to_be_visible()
        await expect(page.get_by_text("Jordan").first).to_be_visible()


async def test_claims_list_and_claim_detail_with_status_and_eob(
    two_plans: Stack, browser: Browser
) -> None:
    async with browser_page(browser, "portal_claim_detail") as page:
        await sign_in(page, cascade(two_plans), "sam.biller")
        await page.get_by_role("link", name="Claims", exact=True).click()
        rows = page.get_by_role("table", name=re.compile("billed under your Tax IDs")).locator(
            "tbody tr"
        )
        await expect(rows.first).to_contain_text("12-3456789")
        texts = await rows.all_inner_texts()
        assert texts and not any("98-7654321" in text for text in texts)
        await page.get_by_label("Status").select_option("paid")
        await page.get_by_role("button", name="Search").click()
        first = rows.first.get_by_role("link")
        number = await first.inner_text()
        await first.click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(f"Claim {number}")
        await expect(page.get_by_text("Status: Paid")).to_be_visible()
        await expect(page.get_by_role("heading", name="Explanation of benefits")).to_be_visible()
        await expect(page.get_by_role("row", name=re.compile("Paid amount"))).to_be_visible()
        lines = page.get_by_role("table", name=re.compile("Service lines"))
        await expect(lines).to_contain_text("99213")


async def test_second_plan_by_sso_without_password_shows_the_refusal(
    two_plans: Stack, browser: Browser
) -> None:
    async with browser_page(browser, "portal_second_plan_refusal") as page:
        await sign_in(page, cascade(two_plans), "sam.biller")
        visited: list[str] = []
        page.on("framenavigated", lambda frame: visited.append(frame.url))
        await page.goto(summit(two_plans) + "/portal/")
        await page.get_by_role("link", name="Sign in with TINpass").click()
        await page.wait_for_url(re.compile(re.escape(summit(two_plans)) + "/portal/"))
        assert not [url for url in visited if "/login" in url and two_plans.issuer in url]
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "Your account is not authorized for this plan's portal"
        )
        await expect(page.get_by_text("12-3456789", exact=True)).to_be_visible()
        await expect(
            page.get_by_text("Ask your organization's TINpass administrator")
        ).to_be_visible()


async def test_sign_in_with_two_step_then_refusal_where_no_tin_matches(
    two_plans: Stack, browser: Browser
) -> None:
    async with browser_page(browser, "portal_mfa_enrolled_at_tinpass") as page:
        await page.goto(two_plans.issuer + "/account")
        await page.get_by_label("Username").fill("hana.harb")
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_role("heading", name="You are signed in")).to_be_visible()
        await page.goto(two_plans.issuer + "/account")
        await page.get_by_role("link", name="Turn on two-step sign-in").click()
        # Looking at the page changes nothing; enrolment starts with a POST (just signed in:
        # recent enough, so no password is asked again).
        await expect(page.locator("#mfa-state")).to_have_text("off")
        await page.get_by_role("button", name="Turn on two-step sign-in").click()
        totp = pyotp.TOTP(await page.locator("#secret").inner_text())
        await page.get_by_label("Code from your app").fill(totp.now())
        await page.get_by_role("button", name="Turn on two-step sign-in").click()
        await expect(page.get_by_text("recovery", exact=False).first).to_be_visible()
    async with browser_page(browser, "portal_mfa_refusal_other_org") as page:
        await page.goto(cascade(two_plans) + "/portal/")
        await page.get_by_role("link", name="Sign in with TINpass").click()
        await page.get_by_label("Username").fill("hana.harb")
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        next_step = totp.at(time.time() + 30)  # the enrollment used this step's code
        await page.get_by_label("Code").fill(next_step)
        await page.get_by_role("button", name="Continue").click()
        await page.wait_for_url(re.compile(re.escape(cascade(two_plans)) + "/portal/"))
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "Your account is not authorized for this plan's portal"
        )
        await expect(page.get_by_text("55-5000111", exact=True)).to_be_visible()
        await expect(page.get_by_role("heading", name="What to do next")).to_be_visible()


async def test_logout_at_one_plan_ends_the_session_at_the_other(
    two_plans: Stack, browser: Browser
) -> None:
    async with browser_page(browser, "portal_logout_everywhere") as page:
        await sign_in(page, cascade(two_plans), "ever.admin")
        await page.goto(summit(two_plans) + "/portal/login")
        await page.wait_for_url(re.compile(re.escape(summit(two_plans)) + "/portal/"))
        table = page.get_by_role("table", name=re.compile("Tax IDs your account acts for"))
        await expect(table.get_by_role("row", name=re.compile("98-7654321"))).to_contain_text(
            "matches"
        )
        await expect(table.get_by_role("row", name=re.compile("12-3456789"))).to_contain_text(
            "no provider record"
        )
        await page.get_by_role("button", name="Sign out").click()
        await expect(page.get_by_role("heading", name="You are signed out")).to_be_visible()
        await until_signed_out(page, cascade(two_plans))
        await expect(page.get_by_role("link", name="Sign in with TINpass")).to_be_visible()
        await page.get_by_role("link", name="Sign in with TINpass").click()
        await expect(page.get_by_label("Password")).to_be_visible()


async def until_signed_out(page: Page, portal: str, attempts: int = 50) -> None:
    """The back-channel notice travels asynchronously: look until the session is gone."""
    for _ in range(attempts):
        await page.goto(portal + "/portal/")
        if await page.get_by_role("link", name="Sign in with TINpass").count():
            return
        await asyncio.sleep(0.2)
    pytest.fail(f"the portal at {portal} still shows a signed-in page after the logout")
