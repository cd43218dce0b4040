"""`<time>` elements: ISO 8601 with offset in `datetime`, readable UTC text inside."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from policy.times import time_element


def test_a_moment_is_shown_in_utc_with_its_offset_in_the_attribute() -> None:
    pacific = timezone(timedelta(hours=-8))
    moment = datetime(2026, 11, 28, 5, 24, 7, 123, tzinfo=pacific)
    assert time_element(moment) == (
        '<time datetime="2026-11-28T13:24:07+00:00">Nov 28, 2026, 13:24 UTC</time>'
    )


def test_naive_times_are_utc_and_text_is_parsed() -> None:
    naive = datetime(2026, 1, 2, 3, 4)  # SQLite gives stored UTC times back naive
    expected = '<time datetime="2026-01-02T03:04:00+00:00">Jan 2, 2026, 03:04 UTC</time>'
    assert time_element(naive) == expected
    assert time_element(naive.replace(tzinfo=UTC).isoformat()) == expected


def test_a_date_has_no_time_zone_and_nothing_shows_the_fallback() -> None:
    assert time_element(date(2026, 3, 9)) == '<time datetime="2026-03-09">Mar 9, 2026</time>'
    assert time_element(None, "never") == "never"
    assert time_element("", "<none>") == "&lt;none&gt;"
