"""A real browser for end-to-end tests: Playwright driving Debian's chromium headless.

`make test` installs chromium (deploy/ensure_chromium.sh) and exports its path as
TINPASS_CHROMIUM. Where no chromium exists the browser tests are skipped with a message
saying so; under CI (TINPASS_REQUIRE_BROWSER=1 or CI=true) a missing browser fails instead.
Each page's last state is saved as a screenshot under test-output/screenshots/.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"


def chromium_path() -> str | None:
    return (
        os.environ.get("TINPASS_CHROMIUM")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )


def browser_required() -> bool:
    return os.environ.get("CI") == "true" or os.environ.get("TINPASS_REQUIRE_BROWSER") == "1"


@asynccontextmanager
async def launched_browser() -> AsyncIterator[Browser]:
    path = chromium_path()
    if path is None:
        if browser_required():
            pytest.fail("chromium is required for the browser tests here but is not installed")
        pytest.skip("no chromium on this machine (deploy/ensure_chromium.sh could not install it)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=path, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield browser
        finally:
            await browser.close()


@asynccontextmanager
async def browser_page(browser: Browser, name: str, **options: Any) -> AsyncIterator[Page]:
    """A fresh context (its own cookies; `options` of Playwright's `new_context`, such as
    `timezone_id`) and page; a screenshot of the last page is kept."""
    context: BrowserContext = await browser.new_context(**options)
    page = await context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
        await page.screenshot(path=str(SCREENSHOTS / f"{safe}.png"), full_page=True)
        await context.close()
