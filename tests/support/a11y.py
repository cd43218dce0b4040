"""Accessibility checks in the browser tests: axe-core (bundled, offline, by the
axe-playwright-python package) run against the page as it is now.

`await assert_accessible(page, "console_people")` fails on any violation of impact
"serious" or "critical", naming the rule, its help text and the offending elements;
each checked page is also kept as a screenshot (test-output/screenshots/a11y_<name>.png)
and listed in test-output/a11y/<name>.json with every violation found (minor ones too).
Browser test modules are named `test_*_browser.py` (tests/conftest.py marks them `browser`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page

from tests.support.browser import SCREENSHOTS

REPORTS = SCREENSHOTS.parent / "a11y"
BLOCKING = frozenset({"serious", "critical"})
_axe = Axe()


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Every axe-core violation on the page (WCAG 2.x A/AA and best practices)."""
    results = await _axe.run(page)
    violations: list[dict[str, Any]] = results.response["violations"]
    return violations


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        targets = ", ".join(" ".join(n["target"]) for n in v["nodes"][:5])
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']} — {targets}")
    return "\n".join(lines)


async def assert_accessible(page: Page, name: str, ignore: tuple[str, ...] = ()) -> None:
    """No serious or critical axe-core violation on the page as it is now. `ignore`
    names rules broken only by third-party markup the page embeds (each caller says
    which markup, and why, next to the call); they stay listed in the report."""
    violations = await axe_violations(page)
    REPORTS.mkdir(parents=True, exist_ok=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    safe = _safe(name)
    report = {"url": page.url, "violations": violations}
    (REPORTS / f"{safe}.json").write_text(json.dumps(report, indent=1, default=str))
    await page.screenshot(path=str(SCREENSHOTS / f"a11y_{safe}.png"), full_page=True)
    blocking = [v for v in violations if v.get("impact") in BLOCKING and v["id"] not in ignore]
    assert not blocking, f"accessibility violations on {name} ({page.url}):\n" + describe(blocking)


async def snapshot(page: Page, name: str) -> Path:
    """A full-page screenshot kept as a test artifact (test-output/screenshots/)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{_safe(name)}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
