"""Forwarding a request upstream: the headers rules of an HTTP intermediary.

Hop-by-hop headers (RFC 9110 §7.6.1: Connection and every header it names,
Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade) are not
forwarded in either direction. Identity headers a client might send to
impersonate someone (X-User-*, X-Principal-*, X-Org-*, X-Tax-Ids, X-Forwarded-User,
X-Authenticated-*) are stripped: upstreams learn who is calling only from the
token, which they verify again. Cookies are not forwarded either: the APIs take
bearer tokens only, and a browser sends the portal's session cookie (`__Host-`,
Path=/ behind https) with every request to the gateway's host.
"""

from __future__ import annotations

from collections.abc import Iterable

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "proxy-authenticate",
        "proxy-authorization",
    }
)
IDENTITY_PREFIXES = (
    "x-user",
    "x-principal",
    "x-org",
    "x-tax-id",
    "x-authenticated",
    "x-forwarded-user",
    "x-remote-user",
    "x-client-id",
    "remote-user",
)
NOT_FORWARDED = frozenset({"host", "content-length", "cookie"})


def _connection_tokens(headers: Iterable[tuple[str, str]]) -> set[str]:
    named: set[str] = set()
    for name, value in headers:
        if name.lower() == "connection":
            named.update(token.strip().lower() for token in value.split(",") if token.strip())
    return named


def request_headers(headers: Iterable[tuple[str, str]], request_id: str) -> list[tuple[str, str]]:
    items = list(headers)
    dropped = HOP_BY_HOP | _connection_tokens(items) | NOT_FORWARDED | {"x-request-id"}
    kept = [
        (name, value)
        for name, value in items
        if name.lower() not in dropped and not name.lower().startswith(IDENTITY_PREFIXES)
    ]
    kept.append(("x-request-id", request_id))
    return kept


RESPONSE_DROPPED = HOP_BY_HOP | {"content-length", "content-encoding", "x-request-id"}


def response_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """An upstream's raw header lines to pass on, names lowercased (as ASGI wants them)."""
    items = [(name.decode("latin-1").lower(), value) for name, value in headers]
    dropped = RESPONSE_DROPPED | _connection_tokens(
        (name, value.decode("latin-1")) for name, value in items if name == "connection"
    )
    return [(name.encode("latin-1"), value) for name, value in items if name not in dropped]
