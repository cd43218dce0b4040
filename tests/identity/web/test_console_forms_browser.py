"""The console's forms in a real browser (Playwright driving Debian's chromium), as an
office manager in Seattle meets them: asked to sign in from a console page, they land
back on it; the last sign-in shows in Pacific time; a mistyped Tax ID comes back
beside its field; suspending a person asks first, with a danger-styled button; the
page with a new client's secret reloads without making a second client. Every page
state is checked with axe-core and kept as a screenshot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, Page
from sqlalchemy import func, select

from deploy.stack import free_port
from identity.models import Client, User
from tests.identity.admin_flows import org_id_of
from tests.identity.harness import PASSWORD, IdentityHarness, running_identity
from tests.support.a11y import assert_accessible
from tests.support.browser import browser_page, launched_browser
from tests.support.servers import serve

SEATTLE = "America/Los_Angeles"


@pytest.fixture(scope="module")
async def world(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[IdentityHarness, str]]:
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    tmp = tmp_path_factory.mktemp("console-forms")
    async with running_identity(tmp, issuer=issuer) as identity, serve(identity.app, port):
        yield identity, issuer


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with launched_browser() as launched:
        yield launched


async def sign_in_from(page: Page, url: str) -> None:
    """Open a console page while signed out: the sign-in page, then back to `url`."""
    await page.goto(url)
    await page.get_by_label("Username").fill("ever.admin")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(url)


async def clients_named(identity: IdentityHarness, name: str) -> int:
    async with identity.session() as session:
        count = await session.scalar(select(func.count()).where(Client.name == name))
    return int(count or 0)


async def test_console_forms_in_a_browser(
    world: tuple[IdentityHarness, str], browser: Browser
) -> None:
    identity, issuer = world
    org = await org_id_of(identity, "Evergreen Family Clinic")
    here = f"{issuer}/console/orgs/{org}"
    async with browser_page(browser, "console-forms", timezone_id=SEATTLE, locale="en-US") as page:
        await sign_in_from(page, here)
        await page.get_by_role("heading", name="Evergreen Family Clinic").wait_for()
        await assert_accessible(page, "console-forms-1-organization")

        async with identity.session() as session:
            eve = await session.scalar(select(User).where(User.username == "ever.admin"))
            assert eve is not None and eve.last_login_at is not None
            signed_in_at = eve.last_login_at
        local = (
            signed_in_at if signed_in_at.tzinfo else signed_in_at.replace(tzinfo=ZoneInfo("UTC"))
        )
        local = local.astimezone(ZoneInfo(SEATTLE))
        shown = page.locator("td time").first
        text, title = await shown.inner_text(), await shown.get_attribute("title")
        assert text.endswith("PST") and f"{local:%-I:%M}" in text, text
        assert title is not None and title.endswith("UTC"), title
        assert f"{local.day}" in text and f"{local.year}" in text

        tin_form = page.locator("form[action$='/tax-ids']")
        await tin_form.get_by_label("Add a Tax ID").fill("12345")
        await tin_form.get_by_label("Legal name registered with the IRS").fill("Evergreen PLLC")
        await tin_form.get_by_label("I attest that this organization owns").check()
        await tin_form.get_by_role("button", name="Ask TINpass to verify this Tax ID").click()
        field = page.get_by_label("Add a Tax ID")
        await page.get_by_text(
            "A Tax ID has exactly nine digits, like 12-3456789."
        ).first.wait_for()
        assert await field.get_attribute("aria-invalid") == "true"
        assert await field.input_value() == "12345", "the value typed is kept"
        described = await field.get_attribute("aria-describedby")
        assert described and "nine digits" in await page.locator(f"#{described}").inner_text()
        await assert_accessible(page, "console-forms-2-inline-error")

        await page.goto(here)
        await page.get_by_text("Change Sam", exact=False).first.click()
        await page.get_by_role("button", name="Suspend: sam.biller…").click()
        await page.get_by_role("heading", name="Suspend").wait_for()
        danger = page.get_by_role("button", name="Suspend sam.biller")
        color = await danger.evaluate("b => getComputedStyle(b).backgroundColor")
        assert color == "rgb(164, 0, 15)", "the destructive button is styled apart from Save"
        await assert_accessible(page, "console-forms-3-confirm-suspend")
        await page.get_by_role("link", name="Cancel, keep everything as it is").click()
        await page.wait_for_url(here)

        await page.goto(f"{here}/clients")
        await page.get_by_label("Name", exact=True).fill("Browser batch")
        await page.get_by_role("button", name="Create client").click()
        secret = await page.locator("#client-secret").inner_text()
        await assert_accessible(page, "console-forms-4-secret")
        await page.reload()
        assert await page.locator("#client-secret").inner_text() == secret
        assert await clients_named(identity, "Browser batch") == 1, "a reload made no client"
