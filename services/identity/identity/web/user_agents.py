"""A session's browser and system in words ("Firefox on Windows", "Chrome on Android")
from its User-Agent header, for the account page's list of sessions.

Deliberately small: the browsers and systems people sign in with, checked in an
order that resolves the usual disguises (Edge and Opera and Samsung Internet also
say "Chrome"; Chrome says "Safari"; an iPhone says "like Mac OS X"; Android says
"Linux"). Anything else is "an unknown browser"; the raw string is never shown."""

from __future__ import annotations

BROWSERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Edge", ("Edg/", "EdgA/", "EdgiOS/", "Edge/")),
    ("Opera", ("OPR/", "OPiOS/", "Opera")),
    ("Samsung Internet", ("SamsungBrowser/",)),
    ("Firefox", ("Firefox/", "FxiOS/")),
    ("Internet Explorer", ("MSIE ", "Trident/")),
    ("Chrome", ("CriOS/", "HeadlessChrome/", "Chrome/", "Chromium/")),
    ("Safari", ("Version/",)),  # Safari's own mark, with "Safari/" below
)
SYSTEMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Android", ("Android",)),
    ("iPhone", ("iPhone", "iPod")),
    ("iPad", ("iPad",)),
    ("ChromeOS", ("CrOS",)),
    ("Windows", ("Windows",)),
    ("Mac", ("Macintosh", "Mac OS X")),
    ("Linux", ("Linux", "X11")),
)
UNKNOWN = "An unknown browser"


def _first(user_agent: str, table: tuple[tuple[str, tuple[str, ...]], ...]) -> str | None:
    for name, marks in table:
        if any(mark in user_agent for mark in marks):
            return name
    return None


def browser_of(user_agent: str) -> str | None:
    browser = _first(user_agent, BROWSERS)
    if browser == "Safari" and "Safari/" not in user_agent and "Mobile/" not in user_agent:
        return None
    return browser


def system_of(user_agent: str) -> str | None:
    return _first(user_agent, SYSTEMS)


def describe(user_agent: str | None) -> str:
    """'Firefox on Windows', 'Chrome on Android', 'Safari on iPhone'; the browser alone
    when the system is not recognized; 'An unknown browser' for anything else."""
    text = (user_agent or "").strip()
    browser = browser_of(text) if text.startswith("Mozilla/") or "Opera" in text else None
    system = system_of(text) if browser else None
    if browser is None:
        return UNKNOWN
    return f"{browser} on {system}" if system else browser
