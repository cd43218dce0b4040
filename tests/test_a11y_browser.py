"""tests/support/a11y.py: axe-core finds a serious violation and passes a clean page."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from tests.support.a11y import REPORTS, assert_accessible, axe_violations
from tests.support.browser import browser_page, launched_browser
from tests.support.servers import serve

CLEAN = """<!doctype html><html lang="en"><head><title>Clean</title></head>
<body><main><h1>Clean</h1><label for="q">Member ID</label><input id="q" name="q">
</main></body></html>"""
# White on near-white text fails colour contrast (serious); a nameless input is critical.
BROKEN = """<!doctype html><html lang="en"><head><title>Broken</title></head>
<body><main><h1>Broken</h1><p style="color:#eee;background:#fff">faint</p>
<input name="q"></main></body></html>"""


def page_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/clean", lambda _: HTMLResponse(CLEAN)),
            Route("/broken", lambda _: HTMLResponse(BROKEN)),
        ]
    )


async def test_clean_page_passes_and_broken_page_names_its_violations() -> None:
    async with (
        launched_browser() as browser,
        serve(page_app()) as base,
        browser_page(browser, "a11y_support") as page,
    ):
        await page.goto(base + "/clean")
        await assert_accessible(page, "support_clean")
        assert (REPORTS / "support_clean.json").exists()

        await page.goto(base + "/broken")
        rules = {v["id"] for v in await axe_violations(page)}
        assert {"color-contrast", "label"} <= rules
        with pytest.raises(AssertionError, match="color-contrast") as failure:
            await assert_accessible(page, "support_broken")
        assert "label" in str(failure.value)
