"""Dates and times on pages: one `<time>` element, the same on every service.

`time_element` renders `<time datetime="ISO 8601 with offset">readable UTC</time>`:
the server's text is a readable fallback in UTC; identity's small static script
(`/static/time.js`) rewrites the text in the viewer's own time zone. A date
without a time is shown as it is (a date has no time zone). Returns escaped HTML
as a string; a template engine marks it safe (`identity.web.pages` registers it as
the `when` filter).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from html import escape

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def readable_date(value: date) -> str:
    return f"{MONTHS[value.month - 1]} {value.day}, {value.year}"


def readable_utc(value: datetime) -> str:
    """`Nov 28, 2026, 13:24 UTC`: the fallback text, and what a page without script shows."""
    moment = as_utc(value)
    return f"{readable_date(moment)}, {moment:%H:%M} UTC"


def as_utc(value: datetime) -> datetime:
    """A stored time in UTC (SQLite gives back naive times, stored as UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def time_element(value: date | datetime | str | None, empty: str = "") -> str:
    """The `<time>` element of a date or a moment (or its ISO 8601 text); `empty`
    (escaped) for None or an empty text."""
    if not value:
        return escape(empty)
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        moment = as_utc(value).replace(microsecond=0)
        return f'<time datetime="{moment.isoformat()}">{escape(readable_utc(moment))}</time>'
    return f'<time datetime="{value.isoformat()}">{escape(readable_date(value))}</time>'
