"""Tax IDs and NPIs as the plan stores them: ASCII digits 0-9 only.

`str.isdigit()`, `int()` and regex `\\d` also take full-width (U+FF10..) and
Arabic-Indic (U+0660..) digits; a look-alike of a TIN or NPI must be refused, not
stored or compared. Every boundary (API schemas, query parameters, CSV rows, the
CLI) checks with these.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

TIN_PATTERN = r"^[0-9]{2}-?[0-9]{7}$"
NPI_PATTERN = r"^[0-9]{10}$"
_DIGITS = re.compile(r"[0-9]+")
_TIN = re.compile(TIN_PATTERN)
TIN_RULE = "a Tax ID is nine digits 0-9, like 12-3456789 (digits of other scripts are refused)"
NPI_RULE = "an NPI is ten digits 0-9 (digits of other scripts are refused)"


def ascii_digits(value: str) -> bool:
    """Only the digits 0-9, at least one."""
    return _DIGITS.fullmatch(value) is not None


def is_tin(value: str) -> bool:
    """Nine ASCII digits, with or without the dash after the second."""
    return _TIN.fullmatch(value) is not None


def _tin(value: str) -> str:
    if not is_tin(value):
        raise ValueError(TIN_RULE)
    return value


def _npi(value: str) -> str:
    if len(value) != 10 or not ascii_digits(value):
        raise ValueError(NPI_RULE)
    return value


TaxId = Annotated[str, Field(json_schema_extra={"pattern": TIN_PATTERN}), AfterValidator(_tin)]
Npi = Annotated[str, Field(json_schema_extra={"pattern": NPI_PATTERN}), AfterValidator(_npi)]
