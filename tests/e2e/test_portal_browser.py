"""The plans' portals in a real browser (chromium headless, driven by Playwright).

Two plans run, each a gateway with its own portal, database and provider records:
Cascade Health Plan has records for both Evergreen TINs; Summit Health Plan only
for Evergreen Pediatrics (98-7654321). One TINpass login opens both portals. Both are
on 127.0.0.1, where cookies ignore ports: each plan's session cookie has its own name.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pyotp
import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from deploy.stack import Stack
from gateway.settings import Settings
from identity.models import BackchannelDelivery, Client
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


def cookie_of(stack: Stack, gateway: str) -> str:
    """The plan's session cookie name (one per plan: both portals are on 127.0.0.1)."""
    plan = stack.plan_of(gateway)
    return Settings(plan_name=plan.name, portal_base_url=stack.url(gateway)).portal_cookie


async def browser_cookies(page: Page) -> dict[str, str]:
    return {c["name"]: c["value"] for c in await page.context.cookies()}


async def sign_in(page: Page, stack: Stack, gateway: str, username: str) -> None:
    """From the portal's start page through TINpass's login form and back."""
    portal, cookie = stack.url(gateway), cookie_of(stack, gateway)
    await page.goto(portal + "/portal/")
    await page.get_by_role("link", name="Sign in with TINpass").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    before = (await browser_cookies(page))[cookie]  # the session that holds the sign-in state
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(re.compile(re.escape(portal) + "/portal/"))
    assert (await browser_cookies(page))[cookie] != before  # a new session id once signed in


async def test_sign_in_shows_who_and_which_tins_match(two_plans: Stack, browser: Browser) -> None:
    async with browser_page(browser, "portal_sign_in_home") as page:
        await sign_in(page, two_plans, "gateway", "ever.admin")
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
        portal_cookie = next(c for c in cookies if c["name"] == cookie_of(two_plans, "gateway"))
        assert portal_cookie["httpOnly"] and portal_cookie["sameSite"] == "Lax"
        assert "eyJ" not in portal_cookie["value"]  # an opaque id, no token


async def test_eligibility_check_shows_coverage_and_benefits(
    two_plans: Stack, browser: Browser
) -> None:
    async with browser_page(browser, "portal_eligibility") as page:
        await sign_in(page, two_plans, "gateway", "sam.biller")
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
        await sign_in(page, two_plans, "gateway", "sam.biller")
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
        await expect(page.get_by_role("heading", name="Status: Paid")).to_be_visible()
        await expect(page.get_by_text("Paid by the plan")).to_be_visible()
        eob = page.get_by_role("link", name="Download the explanation of benefits (PDF)")
        await expect(eob).to_be_visible()
        line = page.get_by_role("heading", name=re.compile("Line 1: procedure 99213"))
        await expect(line).to_be_visible()


async def test_second_plan_by_sso_without_password_shows_the_refusal(
    two_plans: Stack, browser: Browser
) -> None:
    async with browser_page(browser, "portal_second_plan_refusal") as page:
        await sign_in(page, two_plans, "gateway", "sam.biller")
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


async def sign_in_at_both(page: Page, stack: Stack, username: str = "ever.admin") -> None:
    """Sign-in started at Cascade, then at Summit in a second tab, before either ends: each
    portal keeps its own state (Authlib's state, nonce and PKCE verifier, in the session its
    own cookie names), so Cascade's callback finds its state after Summit's sign-in began,
    and Summit's after Cascade's ended. One SSO session at TINpass covers both."""
    await page.goto(cascade(stack) + "/portal/")
    await page.get_by_role("link", name="Sign in with TINpass").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    second = await page.context.new_page()
    await second.goto(summit(stack) + "/portal/")
    await second.get_by_role("link", name="Sign in with TINpass").click()
    await expect(second.get_by_role("heading", name="Sign in")).to_be_visible()
    started = await browser_cookies(page)
    assert {cookie_of(stack, "gateway"), cookie_of(stack, "summit-gateway")} <= started.keys()
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(re.compile(re.escape(cascade(stack)) + "/portal/$"))
    await second.reload()  # the same authorization request, now with TINpass's SSO session
    await second.wait_for_url(re.compile(re.escape(summit(stack)) + "/portal/$"))
    await second.close()


async def assert_signed_in_at_both(page: Page, stack: Stack) -> dict[str, str]:
    """Both plans' cookies in the browser and both portals' home pages; the cookies."""
    cookies = await browser_cookies(page)
    assert {cookie_of(stack, "gateway"), cookie_of(stack, "summit-gateway")} <= cookies.keys()
    await page.goto(cascade(stack) + "/portal/")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Eve Alvarez")
    await page.goto(summit(stack) + "/portal/")
    table = page.get_by_role("table", name=re.compile("Tax IDs your account acts for"))
    await expect(table.get_by_role("row", name=re.compile("98-7654321"))).to_contain_text("matches")
    await expect(table.get_by_role("row", name=re.compile("12-3456789"))).to_contain_text(
        "no provider record"
    )
    return cookies


async def sign_out_at_summit(page: Page, stack: Stack, cookies: dict[str, str]) -> None:
    """Sign out at Summit (RP-initiated logout at TINpass): Summit's cookie is cleared,
    Cascade's stays in the browser unchanged."""
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="You are signed out")).to_be_visible()
    after = await browser_cookies(page)
    assert cookie_of(stack, "summit-gateway") not in after
    assert after[cookie_of(stack, "gateway")] == cookies[cookie_of(stack, "gateway")]


async def test_logout_at_one_plan_ends_the_session_at_the_other(
    two_plans: Stack, browser: Browser
) -> None:
    """Cascade's cookie outlives the logout at Summit, so what ends Cascade's session is
    the back-channel logout TINpass delivers to Cascade (its delivery record says so)."""
    async with (
        identity_database(two_plans) as identity,
        browser_page(browser, "portal_logout_everywhere") as page,
    ):
        await sign_in_at_both(page, two_plans)
        cookies = await assert_signed_in_at_both(page, two_plans)
        mark = await last_delivery(identity)
        await sign_out_at_summit(page, two_plans, cookies)
        await until_signed_out(page, cascade(two_plans))
        still = await browser_cookies(page)
        assert still[cookie_of(two_plans, "gateway")] == cookies[cookie_of(two_plans, "gateway")]
        delivered = await until_delivered(identity, mark, "cascade-portal")
        assert delivered["attempts"] >= 1 and delivered["failed_at"] is None
        await expect(page.get_by_role("link", name="Sign in with TINpass")).to_be_visible()
        await page.get_by_role("link", name="Sign in with TINpass").click()
        await expect(page.get_by_label("Password")).to_be_visible()


async def test_without_the_back_channel_the_other_plan_stays_signed_in(
    two_plans: Stack, browser: Browser
) -> None:
    """The control: the same logout with Cascade's back-channel logout URI unregistered
    at TINpass leaves Cascade signed in. TINpass queues no delivery for Cascade; once it
    has delivered Summit's notice of the same logout, Cascade still shows the person's
    home page with the same cookie."""
    async with (
        identity_database(two_plans) as identity,
        browser_page(browser, "portal_logout_without_backchannel") as page,
    ):
        await sign_in_at_both(page, two_plans)
        cookies = await assert_signed_in_at_both(page, two_plans)
        mark = await last_delivery(identity)
        async with backchannel_unregistered(identity, "cascade-portal"):
            await sign_out_at_summit(page, two_plans, cookies)
            await until_delivered(identity, mark, "summit-portal")
        assert "cascade-portal" not in await deliveries_after(identity, mark)
        await page.goto(cascade(two_plans) + "/portal/")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Eve Alvarez")
        assert (await browser_cookies(page))[cookie_of(two_plans, "gateway")] == cookies[
            cookie_of(two_plans, "gateway")
        ]


@asynccontextmanager
async def identity_database(stack: Stack) -> AsyncIterator[AsyncEngine]:
    """TINpass's own database, to read its back-channel delivery records."""
    engine = create_async_engine(stack.identity_db)
    try:
        yield engine
    finally:
        await engine.dispose()


async def last_delivery(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        found = await connection.scalar(select(func.max(BackchannelDelivery.id)))
    return int(found or 0)


async def deliveries_after(engine: AsyncEngine, mark: int) -> dict[str, dict[str, Any]]:
    """The back-channel deliveries queued after `mark`, by client."""
    table = BackchannelDelivery.__table__
    async with engine.connect() as connection:
        rows = await connection.execute(select(table).where(table.c.id > mark))
    return {row.client_id: dict(row._mapping) for row in rows}


async def until_delivered(
    engine: AsyncEngine, mark: int, client_id: str, attempts: int = 100
) -> dict[str, Any]:
    """TINpass's sender posts the logout tokens in the background: look until it did."""
    for _ in range(attempts):
        delivery = (await deliveries_after(engine, mark)).get(client_id)
        if delivery is not None and delivery["delivered_at"] is not None:
            return delivery
        await asyncio.sleep(0.1)
    pytest.fail(f"TINpass delivered no back-channel logout to {client_id}")


@asynccontextmanager
async def backchannel_unregistered(engine: AsyncEngine, client_id: str) -> AsyncIterator[None]:
    """The client registered without a back-channel logout URI, for the duration."""
    async with engine.begin() as connection:
        uri = await connection.scalar(
            select(Client.backchannel_logout_uri).where(Client.client_id == client_id)
        )
        assert uri, f"{client_id} has no back-channel logout URI to take away"
        await connection.execute(
            update(Client).where(Client.client_id == client_id).values(backchannel_logout_uri=None)
        )
    try:
        yield
    finally:
        async with engine.begin() as connection:
            await connection.execute(
                update(Client)
                .where(Client.client_id == client_id)
                .values(backchannel_logout_uri=uri)
            )


async def until_signed_out(page: Page, portal: str, attempts: int = 50) -> None:
    """The back-channel notice travels asynchronously: look until the session is gone."""
    for _ in range(attempts):
        await page.goto(portal + "/portal/")
        if await page.get_by_role("link", name="Sign in with TINpass").count():
            return
        await asyncio.sleep(0.2)
    pytest.fail(f"the portal at {portal} still shows a signed-in page after the logout")
