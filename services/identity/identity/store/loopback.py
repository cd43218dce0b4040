"""Loopback redirect URIs of native apps (RFC 8252 §7.3): any port.

A native app receives the authorization response on a loopback port it opens
when it starts, so the port is not known in advance. For a public client (token
endpoint auth method `none`: TINpass's native and browser apps) a registered
redirect URI on a loopback IP literal, `http://127.0.0.1...` or `http://[::1]...`,
matches a requested one that differs only in its port; scheme, host, path and
query stay an exact match, and a fragment or user information never matches.
`localhost` is not a loopback IP literal (§8.3: a name can resolve elsewhere or be
firewalled differently), so its URIs keep the exact rule, as every confidential
client's URIs do (RFC 9700 §4.1.3).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# scheme and IP literal, an optional port (1-65535 without leading zeros), then the
# path and query (no fragment); the port is left out of what is compared
LOOPBACK = re.compile(r"http://(127\.0\.0\.1|\[::1\])(?::([1-9][0-9]{0,4}))?([/?][^#]*)?")


def _without_port(uri: str) -> tuple[str, str] | None:
    """(host, path and query) of a loopback IP literal redirect URI, else None."""
    match = LOOPBACK.fullmatch(uri)
    if match is None or (match[2] is not None and int(match[2]) > 65535):
        return None
    return match[1], match[3] or ""


def matches_any_port(requested: str, registered: Iterable[str]) -> bool:
    """`requested` is one of the loopback URIs in `registered` on some port."""
    wanted = _without_port(requested)
    return wanted is not None and any(_without_port(uri) == wanted for uri in registered)
