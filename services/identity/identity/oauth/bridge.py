"""The one adapter between Authlib's synchronous server and Starlette requests.

Authlib's server API is synchronous; the service is async. A protocol step runs
on the event loop itself, through SQLAlchemy's own bridge (`AsyncSession.run_sync`,
a greenlet): no worker thread. Its CPU work (parsing, checking, signing) is short;
a storage callback that must decide the step's outcome (a code's single use, a
refresh token's one rotation, an assertion's `jti`) awaits the request's
AsyncSession right there (`on_loop`), the greenlet yielding to the loop while the
query runs. Everything else is resolved around the step: clients come from the
process cache (`identity.oauth.client_cache`), and plain writes (codes, tokens,
rotations, revocations) are queued (`ProtocolContext.later`) and run after it, with
the audit events, in the one transaction (`identity.web.protocol.commit`).
The request-scoped state travels in a context variable, which the greenlet shares.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Coroutine, Mapping, MutableMapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import orjson
from authlib.oauth2.rfc6749 import OAuth2Payload, OAuth2Request
from sqlalchemy.util import await_
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from identity.keys import SigningMaterial
from identity.oauth.client_cache import ClientCache
from identity.settings import Settings
from identity.store import OAuthStore
from identity.store.snapshots import ClientInfo
from policy.audit_batch import GroupCommitWriter

T = TypeVar("T")
Write = Callable[[], Coroutine[Any, Any, Any]]


@dataclass
class ProtocolContext:
    """What one protocol request needs while Authlib runs."""

    store: OAuthStore
    settings: Settings
    signing: SigningMaterial  # ID tokens (Settings.signing_alg)
    jwks: dict[str, Any]
    clients: ClientCache
    access_signing: SigningMaterial | None = None  # access tokens (Settings.access_token_alg)
    request_id: str | None = None
    source_address: str | None = None
    sso_session_id: str | None = None
    resource: str | None = None  # RFC 8707: the audience of the access token being made
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)
    issued_jti: tuple[str, int] | None = None  # the access token just made: (jti, exp)
    issued_tax_ids: Any = ()  # and its `tax_ids` claim, for the audit event
    audit_writer: GroupCommitWriter | None = None  # for a step that changed nothing
    scope: MutableMapping[str, Any] = field(default_factory=dict)  # the request's, to log by

    def emit(self, event: str, **details: Any) -> None:
        """Queue an audit event; the endpoint writes it in the same transaction."""
        self.events.append((event, details))

    def later(self, func: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> None:
        """Queue a write whose result decides nothing; it runs after the step, before
        the audit events, in the same transaction."""
        self.writes.append(lambda: func(*args))

    def client(self, client_id: str) -> ClientInfo | None:
        """A client, from the process cache when fresh, else read once (on the loop)."""
        found, cached = self.clients.cached(client_id)
        if found:
            return cached
        return on_loop(self.clients.load, self.store, client_id)

    @property
    def access_key(self) -> SigningMaterial:
        return self.access_signing or self.signing


_current: ContextVar[ProtocolContext] = ContextVar("tinpass_protocol_context")


def current() -> ProtocolContext:
    return _current.get()


def on_loop(func: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
    """Await an async storage call from inside Authlib's synchronous step."""
    return await_(func(*args))


@dataclass(frozen=True)
class ProtocolResponse:
    status: int
    body: Any
    headers: Sequence[tuple[str, str]]

    def to_starlette(self, extra_headers: Mapping[str, str] | None = None) -> Response:
        """The response, with `extra_headers` (overriding the step's); JSON by orjson."""
        body = self.body
        headers = dict(self.headers)
        if isinstance(body, dict):
            body = orjson.dumps(body)
            headers.setdefault("Content-Type", "application/json")
        if extra_headers:
            headers.update(extra_headers)
        return Response(content=body or b"", status_code=self.status, headers=headers)


# The one parameter an OAuth request may repeat (RFC 8707 §2: several `resource`s);
# every other is sent at most once (RFC 6749 §3.1, §3.2).
REPEATABLE = frozenset({"resource"})


class _Payload(OAuth2Payload):
    """Parameters as read; `data` (first value of each) and `datalist` are built once,
    since Authlib and the hooks ask for them many times per request. `repeated` is
    the first name sent more than once that may not be (None when all are single:
    the usual case costs one length comparison)."""

    def __init__(self, values: Sequence[tuple[str, str]]) -> None:
        first: dict[str, str] = {}
        every: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in values:
            first.setdefault(key, value)
            every[key].append(value)
        self._data = first
        self._datalist = every
        self.repeated: str | None = None
        if len(first) != len(values):
            self.repeated = next(
                (k for k, v in every.items() if len(v) > 1 and k not in REPEATABLE), None
            )

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


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
        form = await read_form(request)
    return BridgedRequest(
        method=request.method,
        uri=settings.issuer.rstrip("/") + request.url.path,
        headers=Headers(scope=request.scope),
        query=list(request.query_params.multi_items()),
        form=form,
    )


FORM_URLENCODED = "application/x-www-form-urlencoded"
MAX_FIELDS = 1000  # Starlette's form parser's limits, kept for the urlencoded path
MAX_FIELD_SIZE = 1024 * 1024


async def read_form(request: Request) -> list[tuple[str, str]]:
    """A POST body's fields (files are ignored).

    A urlencoded body (what OAuth endpoints get, RFC 6749 §3.2) is read whole and
    split once by `urllib.parse.parse_qsl`, which yields exactly what Starlette's
    streaming form parser does (names and values decoded as Latin-1, then
    percent-decoded as UTF-8) at a fraction of its cost, under the same limits and
    400 answers. Any other body goes to Starlette's parser (multipart; file parts are
    ignored).
    """
    content_type = request.headers.get("content-type", "")
    if content_type.partition(";")[0].strip().lower() != FORM_URLENCODED:
        async with request.form() as data:  # closes any uploaded file's spool
            return [(k, v) for k, v in data.multi_items() if isinstance(v, str)]
    body = await request.body()
    fields = [f for f in body.split(b"&") if f] if len(body) > MAX_FIELD_SIZE else ()
    if any(len(f) - (b"=" in f) > MAX_FIELD_SIZE for f in fields):
        raise HTTPException(400, f"Field exceeded maximum size of {MAX_FIELD_SIZE // 1024}KB.")
    pairs = parse_qsl(body.decode("latin-1"), keep_blank_values=True)
    if len(pairs) > MAX_FIELDS:
        raise HTTPException(400, f"Too many fields. Maximum number of fields is {MAX_FIELDS}.")
    return pairs


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
    """Run Authlib's synchronous `func` on the loop (a greenlet) with `ctx` current."""
    token = _current.set(ctx)
    try:
        return await ctx.store.session.run_sync(lambda _sync_session: func(*args))
    finally:
        _current.reset(token)


async def run_writes(ctx: ProtocolContext) -> None:
    """The step's queued writes, in the order it queued them."""
    writes, ctx.writes = ctx.writes, []
    for write in writes:
        await write()
