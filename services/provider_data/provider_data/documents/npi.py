"""National Provider Identifier check digit: Luhn over the number prefixed with 80840
(CMS, NPI check digit specification)."""

from __future__ import annotations

from provider_data.documents.identifiers import ascii_digits


def _luhn_sum(digits: str) -> int:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 0:
            value *= 2
            value = value - 9 if value > 9 else value
        total += value
    return total


def check_digit(first_nine: str) -> str:
    if len(first_nine) != 9 or not ascii_digits(first_nine):
        raise ValueError("an NPI has nine digits before its check digit")
    return str((10 - _luhn_sum("80840" + first_nine) % 10) % 10)


def is_valid(npi: str) -> bool:
    return len(npi) == 10 and ascii_digits(npi) and check_digit(npi[:9]) == npi[9]


def make(first_nine: str) -> str:
    return first_nine + check_digit(first_nine)
