"""/docs on identity and on the gateway in a real browser, offline: every request to a
host other than the service itself is aborted, and the page still renders every
operation (Swagger UI is served by the service, policy.apidocs), with no CSP
violation and no serious accessibility violation of TINpass's making. It uses the
package's two-plan stack, started once for the portal's browser tests too."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, Route, expect

from deploy.stack import Stack
from tests.support.a11y import assert_accessible
from tests.support.browser import browser_page, launched_browser

pytestmark = pytest.mark.e2e

# Swagger UI's own markup (third-party, vendored unchanged) breaks this serious axe
# rule, which TINpass's stylesheet cannot mend: each operation's summary is a
# <button>-like control holding the "copy to clipboard" and the lock icon's buttons
# (Swagger UI 5.x). Its colour contrasts are mended by policy/swagger_ui/docs.css.
# (Moderate, not failing: its two <main> elements, operations and schemas.)
SWAGGER_UI_RULES = ("nested-interactive",)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with launched_browser() as launched:
        yield launched


async def _offline(page: Page, origin: str) -> list[str]:
    """Abort every request that is not to `origin`; the list names those aborted."""
    aborted: list[str] = []

    async def only_origin(route: Route) -> None:
        url = route.request.url
        if url.startswith(origin + "/") or url == origin:
            await route.continue_()
        else:
            aborted.append(url)
            await route.abort()

    await page.route("**/*", only_origin)
    return aborted


async def _rendered(browser: Browser, name: str, origin: str, operations: list[str]) -> None:
    async with browser_page(browser, name) as page:
        aborted = await _offline(page, origin)
        problems: list[str] = []
        page.on("console", lambda m: _keep_errors(m, problems))
        answer = await page.goto(origin + "/docs")
        assert answer is not None and answer.status == 200
        for operation in operations:
            method, path = operation.split(" ", 1)
            block = page.locator(f".opblock-{method.lower()}").filter(has_text=path)
            await expect(block.first).to_be_visible()
        await expect(page.locator("button.authorize")).to_be_visible()
        assert aborted == [], f"/docs asked other hosts: {aborted}"
        assert problems == [], problems
        await assert_accessible(page, name, ignore=SWAGGER_UI_RULES)


def _keep_errors(message: ConsoleMessage, problems: list[str]) -> None:
    if message.type == "error":
        problems.append(message.text)


async def test_identity_docs_render_offline(browser: Browser, two_plans: Stack) -> None:
    origin = two_plans.url("identity").rstrip("/")
    assert urlsplit(origin).hostname == "127.0.0.1"
    await _rendered(
        browser,
        "api_docs_identity",
        origin,
        ["GET /api/v1/organizations/{org_id}", "POST /api/v1/organizations/{org_id}/clients"],
    )


async def test_gateway_docs_render_offline(browser: Browser, two_plans: Stack) -> None:
    await _rendered(
        browser,
        "api_docs_gateway",
        two_plans.url("gateway").rstrip("/"),
        ["POST /eligibility/v1/inquiries", "POST /claims/v1/claims", "GET /claims/v1/claims"],
    )
