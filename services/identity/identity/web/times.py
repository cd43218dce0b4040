"""Dates and times on pages: `<time datetime="ISO-8601 with offset">readable UTC</time>`,
registered as the `when` filter (`{{ moment | when }}`, `{{ moment | when("never") }}`).

The same element and text as `policy.times.time_element` on the `console` branch (the
site-wide one, whose script shows every such element in the viewer's time zone): when
both are merged, this module gives way to that one."""

from __future__ import annotations

from datetime import UTC, datetime

from markupsafe import Markup, escape

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def readable_utc(moment: datetime) -> str:
    """'Nov 28, 2026, 13:24 UTC'."""
    return f"{MONTHS[moment.month - 1]} {moment.day}, {moment.year}, {moment:%H:%M} UTC"


def when(value: datetime | str | None, empty: str = "") -> Markup:
    """The `<time>` element of a moment (a datetime or its ISO-8601 text), or `empty`."""
    if not value:
        return escape(empty)
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    moment = moment.replace(microsecond=0)
    return Markup('<time datetime="{}">{}</time>').format(moment.isoformat(), readable_utc(moment))
