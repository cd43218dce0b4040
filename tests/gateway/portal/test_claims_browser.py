"""The claim pages in a real browser: a claim fits a desktop and a 375 px phone without
scrolling sideways, prints without the menus, and a search pages forward and back by
address (the back button included). Every state is checked with axe-core and kept as
a screenshot. One portal, claims service and browser for the module."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, ViewportSize, expect

from deploy.stack import free_port
from tests.gateway.portal.claims_plan import portal_before_claims, sign_in
from tests.gateway.portal.conftest import Portal
from tests.support.a11y import assert_accessible
from tests.support.browser import browser_page, launched_browser
from tests.support.servers import serve

DESKTOP = ViewportSize(width=1280, height=900)
PHONE = ViewportSize(width=375, height=800)


@pytest.fixture(scope="module")
async def portal(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Portal, str]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    tmp = tmp_path_factory.mktemp("claims")
    async with (
        portal_before_claims(tmp, base_url=base) as running,
        serve(running.app, port),
    ):
        yield running, base


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with launched_browser() as launched:
        yield launched


async def signed_in(page: Page, portal: Portal, base: str, name: str) -> None:
    await sign_in(portal, name)
    await page.context.add_cookies([{"name": portal.cookie, "value": name, "url": base}])


async def no_sideways_scroll(page: Page) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= await page.evaluate("window.innerWidth"), f"page is {width} px wide"


async def partly_paid_claim(page: Page, base: str) -> str:
    await page.goto(f"{base}/portal/claims?status=partially_paid")
    return await page.locator("table.claims tbody th a").first.inner_text()


async def test_a_claim_on_a_desktop_on_a_phone_and_on_paper(
    portal: tuple[Portal, str], browser: Browser
) -> None:
    running, base = portal
    async with browser_page(browser, "portal_claim_detail_phone") as page:
        await signed_in(page, running, base, "browser-detail")
        number = await partly_paid_claim(page, base)
        await page.set_viewport_size(DESKTOP)
        await page.goto(f"{base}/portal/claims/{number}")
        await expect(page.get_by_role("heading", level=1)).to_have_text(f"Claim {number}")
        await expect(page.get_by_text("Reason code CO-197")).to_be_visible()
        await no_sideways_scroll(page)
        await assert_accessible(page, "portal_claim_detail_desktop")

        await page.emulate_media(media="print")
        await expect(page.get_by_role("navigation", name="Portal")).to_be_hidden()
        await expect(page.get_by_role("button", name="Sign out")).to_be_hidden()
        await expect(page.get_by_role("link", name=re.compile("Download"))).to_be_hidden()
        await expect(page.get_by_role("heading", name="Service lines")).to_be_visible()
        await no_sideways_scroll(page)
        await assert_accessible(page, "portal_claim_detail_print")
        await page.emulate_media(media="screen")

        await page.set_viewport_size(PHONE)
        second_line = page.get_by_role("heading", name=re.compile("Line 2: procedure"))
        await expect(second_line).to_be_visible()
        await no_sideways_scroll(page)
        await assert_accessible(page, "portal_claim_detail_phone")
        await page.goto(f"{base}/portal/claims")
        await no_sideways_scroll(page)
        await assert_accessible(page, "portal_claims_phone")


async def test_search_pages_forward_and_back_by_address(
    portal: tuple[Portal, str], browser: Browser
) -> None:
    running, base = portal
    async with browser_page(browser, "portal_claims_paging") as page:
        await signed_in(page, running, base, "browser-paging")
        await page.set_viewport_size(DESKTOP)
        await page.goto(f"{base}/portal/claims")
        await page.get_by_label("Claims per page").select_option("10")
        await page.get_by_role("button", name="Search").click()
        await page.wait_for_url(f"{base}/portal/claims?per_page=10")
        rows = page.locator("table.claims tbody tr")
        await expect(rows).to_have_count(10)
        first_page = await rows.all_inner_texts()
        await assert_accessible(page, "portal_claims_first_page")

        await page.get_by_role("link", name="Next page").click()
        await page.wait_for_url(re.compile(r"per_page=10&cursor="))
        await expect(rows).to_have_count(6)
        second_url = page.url
        await assert_accessible(page, "portal_claims_second_page")

        await page.get_by_role("link", name="Previous page").click()
        await expect(rows).to_have_count(10)
        assert await rows.all_inner_texts() == first_page
        await page.go_back()
        await page.wait_for_url(second_url)
        await expect(rows).to_have_count(6)
        await page.go_back()
        await page.wait_for_url(f"{base}/portal/claims?per_page=10")
        assert await rows.all_inner_texts() == first_page

        await page.get_by_label("Service date from").fill("2026-05-31")
        await page.get_by_label("Service date to").fill("2026-03-01")
        await page.get_by_role("button", name="Search").click()
        await expect(page.get_by_role("alert")).to_contain_text("the range ends on Mar 1, 2026")
        await expect(page.get_by_label("Service date from")).to_have_value("2026-05-31")
        await assert_accessible(page, "portal_claims_reversed_dates")
