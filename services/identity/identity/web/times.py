"""Dates and times on pages: `<time datetime="ISO-8601 with offset">readable UTC</time>`.

Every page shows instants in UTC, in words a person reads ("28 November 2026, 13:40
UTC"); the machine-readable `datetime` attribute carries the offset, so the page can
show them in the viewer's own time zone."""

from __future__ import annotations

from datetime import UTC, datetime

from markupsafe import Markup, escape


def _instant(value: datetime | str | None) -> datetime | None:
    if value is None or value == "":
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def readable(value: datetime | str | None) -> str:
    """'28 November 2026, 13:40 UTC' (empty for no value)."""
    moment = _instant(value)
    return f"{moment.day} {moment:%B %Y, %H:%M} UTC" if moment else ""


def time_element(value: datetime | str | None) -> Markup:
    """A `<time>` element for an instant (a datetime or an ISO-8601 string), or nothing."""
    moment = _instant(value)
    if moment is None:
        return Markup("")
    stamp = moment.isoformat(timespec="seconds")
    return Markup('<time datetime="{}">{}</time>').format(escape(stamp), readable(moment))
