"""The eligibility summary in a real browser (chromium, Playwright): an active member, a
member with costs for the service asked, and a member not found, each checked with axe
and kept as a screenshot. The portal and the plan's real services run in this process
on loopback ports; the person is signed in by a portal session made for the test (the
sign-in itself is tests/e2e/test_portal_browser.py's)."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from playwright.async_api import Browser, Page, expect

from deploy.stack import free_port
from tests.gateway.portal.conftest import Plan, portal_before
from tests.support.a11y import assert_accessible
from tests.support.browser import browser_page, launched_browser
from tests.support.servers import serve

if TYPE_CHECKING:
    from playwright._impl._api_structures import SetCookieParam

USER = {"username": "sam.biller", "name": "Sam Biller", "tax_ids": ["123456789"], "orgs": []}


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with launched_browser() as launched:
        yield launched


@dataclass
class Served:
    url: str  # the portal's start page
    cookie: SetCookieParam  # a signed-in session's


@pytest.fixture(scope="module")
async def portal(plan: Plan) -> AsyncIterator[Served]:
    """The portal on a port, with one signed-in session (its cookie for the browser)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    async with portal_before(
        plan.eligibility_url,
        base_url=base,
        issuer=plan.issuer,
        claims_url=plan.claims_url,
        upstream_timeout=10.0,
    ) as portal:
        tokens = {
            "access_token": plan.issuer.mint(exp=int(time.time()) + 3600),
            "id_token": "id-1",
            "expires_at": time.time() + 3600,
        }
        data = {"sid": "sso-a", "sub": "u-1", "user": USER, "tokens": tokens, "csrf": "csrf-1"}
        await portal.sessions.save("browser-session", data)
        async with serve(portal.app, port):
            cookie: SetCookieParam = {
                "name": portal.cookie,
                "value": "browser-session",
                "url": base,
            }
            yield Served(f"{base}/portal/", cookie)


async def check(page: Page, portal: Served, member_id: str, born: str, service: str) -> None:
    await page.context.add_cookies([portal.cookie])
    await page.goto(portal.url + "eligibility")
    await page.get_by_label("Member ID").fill(member_id)
    await page.get_by_label("Member's date of birth").fill(born)
    await page.get_by_label("Type of service").select_option(label=service)
    await page.get_by_role("button", name="Check eligibility").click()


async def test_an_active_member_summed_up(portal: Served, browser: Browser) -> None:
    async with browser_page(browser, "portal_eligibility_active") as page:
        await check(page, portal, "M1000401", "1978-11-21", "Urgent Care")
        await expect(page.get_by_role("heading", name=re.compile("Result"))).to_have_text(
            "Result: Active"
        )
        await expect(page.get_by_text("No PCP on file")).to_be_visible()
        costs = page.get_by_role("table", name=re.compile("What the member pays: Urgent Care"))
        await expect(costs.get_by_role("row", name=re.compile("Copay"))).to_contain_text("$50.00")
        await assert_accessible(page, "portal_eligibility_active")


async def test_a_member_with_costs_summed_up(portal: Served, browser: Browser) -> None:
    async with browser_page(browser, "portal_eligibility_costs") as page:
        await check(
            page, portal, "M1000101", "1985-04-12", "Professional (Physician) Visit - Office"
        )
        await expect(page.get_by_text("Evergreen Family Clinic (NPI")).to_be_visible()
        left = page.get_by_role("table", name=re.compile("Remaining this plan year"))
        deductible = left.get_by_role("row", name=re.compile("^Deductible"))
        await expect(deductible).to_contain_text(re.compile(r"\$[0-9,.]+ left of \$1,500\.00"))
        summary = await page.locator("dl.summary").bounding_box()
        details = await page.get_by_role("heading", name="Details").bounding_box()
        assert summary and details and summary["y"] < details["y"], "the summary comes first"
        await assert_accessible(page, "portal_eligibility_costs")


async def test_a_member_not_found(portal: Served, browser: Browser) -> None:
    async with browser_page(browser, "portal_eligibility_not_found") as page:
        await check(page, portal, "M9999901", "1990-01-01", "Urgent Care")
        await expect(page.get_by_role("heading", name=re.compile("Result"))).to_have_text(
            "Result: Member not found"
        )
        await expect(page.get_by_role("heading", name="What to check")).to_be_visible()
        await expect(page.get_by_text("provider record", exact=False)).to_have_count(0)
        await assert_accessible(page, "portal_eligibility_not_found")
