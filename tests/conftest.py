"""Suite-wide fixtures."""

from __future__ import annotations

import pytest

from tests.support.databases import db_kind


def pytest_report_header(config: pytest.Config) -> str:
    return f"TINpass test database: {db_kind()}"
