"""Suite-wide fixtures."""

from __future__ import annotations

import pytest

from tests.support.databases import db_kind


def pytest_report_header(config: pytest.Config) -> str:
    return f"TINpass test database: {db_kind()}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser test modules (`test_*_browser.py`) are marked `browser`: deploy/test.sh runs
    them once, in the PostgreSQL run when there is one (what a page shows does not depend
    on the database; the journeys behind them are covered on both by the other tests)."""
    for item in items:
        if item.path.name.endswith("_browser.py"):
            item.add_marker(pytest.mark.browser)
