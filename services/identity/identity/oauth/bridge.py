"""The one adapter between Authlib's synchronous server and Starlette requests.

Authlib's server API is synchronous; the service is async. Each protocol call
runs in a worker thread (`anyio.to_thread.run_sync`), so the event loop never
blocks; Authlib's storage callbacks hop back onto the loop with
`anyio.from_thread.run` (`on_loop`) and use the request's one AsyncSession, so
every database call stays async and the whole protocol step is one transaction.
The request-scoped state travels in a context variable, which anyio copies into
the worker thread.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Coroutine, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio.from_thread
import anyio.to_thread
from authlib.oauth2.rfc6749 import OAuth2Payload, OAuth2Request
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response

from identity.keys import SigningMaterial
from identity.settings import Settings
from identity.store import OAuthStore

T = TypeVar("T")


@dataclass
class ProtocolContext:
    """What one protocol request needs inside the worker thread."""

    store: OAuthStore
    settings: Settings
    signing: SigningMaterial
    jwks: dict[str, Any]
    request_id: str | None = None
    source_address: str | None = None
    sso_session_id: str | None = None
    resource: str | None = None  # RFC 8707: the audience of the access token being made
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def emit(self, event: str, **details: Any) -> None:
        """Queue an audit event; the endpoint writes it in the same transaction."""
        self.events.append((event, details))


_current: ContextVar[ProtocolContext] = ContextVar("tinpass_protocol_context")


def current() -> ProtocolContext:
    return _current.get()


def on_loop(func: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
    """Run an async storage call on the event loop from Authlib's worker thread."""
    return anyio.from_thread.run(func, *args)


@dataclass(frozen=True)
class ProtocolResponse:
    status: int
    body: Any
    headers: Sequence[tuple[str, str]]

    def to_starlette(self) -> Response:
        body = self.body
        headers = dict(self.headers)
        if isinstance(body, dict):
            body = json.dumps(body)
            headers.setdefault("Content-Type", "application/json")
        return Response(content=body or b"", status_code=self.status, headers=headers)


class _Payload(OAuth2Payload):
    def __init__(self, values: Sequence[tuple[str, str]]) -> None:
        self._values = values

    @property
    def data(self) -> dict[str, str]:
        first: dict[str, str] = {}
        for key, value in self._values:
            first.setdefault(key, value)
        return first

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        values: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in self._values:
            values[key].append(value)
        return values


class BridgedRequest(OAuth2Request):
    """An OAuth2Request built from data read off a Starlette request."""

    def __init__(
        self,
        method: str,
        uri: str,
        headers: Mapping[str, str],
        query: Sequence[tuple[str, str]],
        form: Sequence[tuple[str, str]],
    ) -> None:
        super().__init__(method=method, uri=uri, headers=headers)
        self._query = _Payload(query)
        self._form = _Payload(form)
        self.payload = _Payload([*query, *form])

    @property
    def args(self) -> dict[str, str]:
        return self._query.data

    @property
    def form(self) -> dict[str, str]:
        return self._form.data


async def bridged_request(request: Request, settings: Settings) -> BridgedRequest:
    """Read a Starlette request (query and form) into an OAuth2Request.

    The URI is built from the configured issuer, not the Host header, so a
    forged Host cannot change what the protocol code sees.
    """
    form: list[tuple[str, str]] = []
    if request.method == "POST":
        data = await request.form()
        form = [(k, v) for k, v in data.multi_items() if isinstance(v, str)]
    return BridgedRequest(
        method=request.method,
        uri=settings.issuer.rstrip("/") + request.url.path,
        headers=Headers(scope=request.scope),
        query=list(request.query_params.multi_items()),
        form=form,
    )


def stored_authorization_request(
    query: Sequence[tuple[str, str]], settings: Settings
) -> BridgedRequest:
    """Rebuild an authorization request carried through the login form."""
    return BridgedRequest(
        method="GET",
        uri=settings.issuer.rstrip("/") + "/authorize",
        headers={},
        query=query,
        form=[],
    )


async def run_protocol(ctx: ProtocolContext, func: Callable[..., T], *args: Any) -> T:
    """Run Authlib's synchronous `func` in a worker thread with `ctx` current."""
    token = _current.set(ctx)
    try:
        return await anyio.to_thread.run_sync(func, *args)
    finally:
        _current.reset(token)
