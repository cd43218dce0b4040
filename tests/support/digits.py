"""Look-alike digits: they pass str.isdigit() and regex \\d but are not ASCII digits."""

from __future__ import annotations


def full_width(text: str) -> str:
    """'12-3456789' in full-width digits (U+FF10..U+FF19); other characters kept."""
    return "".join(chr(ord(c) - ord("0") + 0xFF10) if "0" <= c <= "9" else c for c in text)


def arabic_indic(text: str) -> str:
    """The same in Arabic-Indic digits (U+0660..U+0669)."""
    return "".join(chr(ord(c) - ord("0") + 0x0660) if "0" <= c <= "9" else c for c in text)
