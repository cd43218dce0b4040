"""What a span may carry out of the process: an allow-list, applied to every finished
span before any exporter sees it (policy.tracing wraps each exporter's processor).

Paths carry claim numbers, queries carry member ids, headers carry bearer tokens,
exceptions quote SQL parameters: so only the attributes named below leave, and those
that describe a request are rewritten:

- `url.path`, `http.target` become the route template (`http.route`), or are dropped;
- `url.full`, `http.url` keep only the origin (scheme, host, port);
- `db.statement`, `db.query.text` keep their placeholders, quoted strings and number
  literals become `?` (SQLAlchemy already binds every value; this holds if one day a
  statement is written with a literal in it);
- the span name of an HTTP span is `METHOD route` or `METHOD`;
- events keep only `exception.type` and `exception.escaped`; a status keeps its code,
  never its description (an exception's message).

Everything else (headers, query strings, user agents, peer addresses, a library's new
attribute) is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from opentelemetry.context import Context
from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import Link, Status

KEPT = frozenset(
    {
        "http.method",
        "http.request.method",
        "http.status_code",
        "http.response.status_code",
        "http.route",
        "http.scheme",
        "http.flavor",
        "url.scheme",
        "network.protocol.version",
        "server.address",
        "server.port",
        "net.host.name",
        "net.host.port",
        "net.peer.name",
        "net.peer.port",
        "error.type",
        "db.system",
        "db.system.name",
        "db.name",
        "db.namespace",
        "db.user",
        "db.operation",
        "db.operation.name",
        "code.function.name",
    }
)
PATHS = ("url.path", "http.target")
URLS = ("url.full", "http.url")
STATEMENTS = ("db.statement", "db.query.text")
EVENT_KEPT = frozenset({"exception.type", "exception.escaped"})

_STRING_LITERAL = re.compile(r"'(?:[^']|'')*'")
_NUMBER_LITERAL = re.compile(r"(?<![\w$:?.])\d+(?:\.\d+)?(?![\w.])")


def scrub_statement(statement: str) -> str:
    """A SQL statement without literal values (placeholders `?`, `$1`, `:name` stay)."""
    return _NUMBER_LITERAL.sub("?", _STRING_LITERAL.sub("?", statement))


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}" if parts.netloc else ""


def attributes(raw: Mapping[str, Any] | None) -> dict[str, Any]:
    raw = raw or {}
    kept = {key: value for key, value in raw.items() if key in KEPT}
    route = raw.get("http.route")
    for key in PATHS:
        if key in raw and isinstance(route, str):
            kept[key] = route
    for key in URLS:
        if isinstance(raw.get(key), str) and origin(raw[key]):
            kept[key] = origin(raw[key])
    for key in STATEMENTS:
        if isinstance(raw.get(key), str):
            kept[key] = scrub_statement(raw[key])
    return kept


def span_name(span: ReadableSpan, kept: Mapping[str, Any]) -> str:
    method = kept.get("http.request.method") or kept.get("http.method")
    if not isinstance(method, str):
        return span.name
    route = kept.get("http.route")
    return f"{method} {route}" if isinstance(route, str) and route else method


def redacted(span: ReadableSpan) -> ReadableSpan:
    kept = attributes(span.attributes)
    events = [
        Event(
            event.name,
            {k: v for k, v in (event.attributes or {}).items() if k in EVENT_KEPT},
            event.timestamp,
        )
        for event in span.events
    ]
    links = [Link(link.context) for link in span.links]
    return ReadableSpan(
        name=span_name(span, kept),
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=kept,
        events=events,
        links=links,
        kind=span.kind,
        status=Status(span.status.status_code),
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class Redacting(SpanProcessor):
    """Hands `inner` (a batch or simple processor and its exporter) redacted spans only."""

    def __init__(self, inner: SpanProcessor) -> None:
        self.inner = inner

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None  # nothing leaves before the span ends

    def on_end(self, span: ReadableSpan) -> None:
        self.inner.on_end(redacted(span))

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)
