"""The input rule (`policy.inputs`) on what every request carries, as ASGI middleware.

`InputGuard` refuses, with a 400 RFC 9457 problem naming the part at fault, a
request whose path or query parameters hold control characters (a NUL in an id
would otherwise reach the database), and, where asked (the gateway, which
forwards headers), a header value with bytes outside visible ASCII. Paths whose
protocol answers bad parameters itself (OAuth endpoints) are left to it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from policy.inputs import InvalidInput, problem
from policy.problems import PROBLEM_JSON
from policy.problems import problem as problem_body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
QUERY_VALUE_LENGTH = 4096
_HEADER_FAULT = re.compile(rb"[^\t\x20-\x7e]")


def header_problem(name: str, raw: bytes) -> InvalidInput | None:
    """A header value may hold visible ASCII, spaces and tabs only."""
    if _HEADER_FAULT.search(raw) is None:  # the usual case, without a loop in Python
        return None
    for byte in raw:
        if byte == 0x09 or 0x20 <= byte <= 0x7E:
            continue
        kind = "a control character" if byte < 0x20 or byte == 0x7F else "a non-ASCII byte"
        return InvalidInput(
            f"header {name}", f"contains {kind} (0x{byte:02X}); send visible ASCII only"
        )
    return None


def request_problem(
    scope: Scope, *, check_query: bool = True, check_headers: bool = False
) -> InvalidInput | None:
    """What in the request's path, query or headers breaks the rule, if anything."""
    if (reason := problem(scope.get("path", ""))) is not None:
        return InvalidInput("path", reason)
    if check_query:
        query = scope.get("query_string", b"").decode("latin-1")
        for name, value in parse_qsl(query, keep_blank_values=True):
            if (reason := problem(name, 64)) is not None:
                return InvalidInput("a query parameter's name", reason)
            if (reason := problem(value, QUERY_VALUE_LENGTH)) is not None:
                return InvalidInput(f"query parameter {name}", reason)
    if check_headers:
        for raw_name, raw_value in scope.get("headers", []):
            if found := header_problem(raw_name.decode("latin-1"), raw_value):
                return found
    return None


class InputGuard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        protocol_paths: Iterable[str] = (),
        check_headers: bool = False,
    ) -> None:
        self.app = app
        self.protocol_paths = frozenset(protocol_paths)
        self.check_headers = check_headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        found = request_problem(
            scope,
            check_query=scope.get("path") not in self.protocol_paths,
            check_headers=self.check_headers,
        )
        if found is None:
            await self.app(scope, receive, send)
            return
        await _refuse(send, found)


def _subject(field: str) -> str:
    return "A" + field[1:] if field.startswith("a ") else f"The {field}"


async def _refuse(send: Send, found: InvalidInput) -> None:
    body = problem_body(
        400,
        "The request is not valid",
        f"{_subject(found.field)} {found.reason}.",
        type_slug="invalid-input",
        field=found.field,
    )
    content = json.dumps(body).encode()
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(content)).encode()),
        (b"cache-control", b"no-store"),
    ]
    await send({"type": "http.response.start", "status": 400, "headers": headers})
    await send({"type": "http.response.body", "body": content})
