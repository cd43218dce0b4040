"""One trace from the gateway to a plan's service: the gateway and the eligibility and
claims apps served on real ports in this process, each traced (policy.tracing) into one
in-memory exporter, or not traced at all (the default)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.background import BackgroundTask

from gateway.app import create_app as create_gateway
from gateway.settings import Settings as GatewaySettings
from policy import TokenVerifier, tracing
from provider_data.api import claims, eligibility
from provider_data.data.seed import seed_demo
from provider_data.platform.db import create_engine, migrate, session_factory
from tests.provider_data.conftest import plan_settings
from tests.support.databases import fresh_database
from tests.support.servers import serve
from tests.support.tokens import AUDIENCE, ISSUER, JWKS_URI, TestIssuer

MEMBER = "M1000101"
INQUIRY = {"member_id": MEMBER, "date_of_birth": "1985-04-12"}


@dataclass
class Stack:
    client: httpx.AsyncClient
    gateway: FastAPI
    eligibility: FastAPI


@pytest.fixture(scope="module")
async def plan_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    async with fresh_database("tracing", tmp_path_factory.mktemp("tracing")) as url:
        await anyio.to_thread.run_sync(migrate, url)
        engine = create_engine(url)
        async with session_factory(engine)() as session:
            await seed_demo(session)
            await session.commit()
        await engine.dispose()
        yield url


@pytest.fixture
def no_otel_variables(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    tracing.reset()
    yield
    tracing.reset()


@pytest.fixture
def exported(no_otel_variables: None) -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.use_processors(SimpleSpanProcessor(exporter))
    yield exporter
    tracing.reset()
    exporter.shutdown()


@asynccontextmanager
async def running(plan_url: str, issuer: TestIssuer) -> AsyncIterator[Stack]:
    """Eligibility and claims, and a gateway before them, each on a loopback port."""
    async with AsyncExitStack() as stack:

        async def started(factory: Any, settings: Any) -> tuple[FastAPI, str]:
            jwks = await stack.enter_async_context(issuer.http_client())
            verifier = TokenVerifier(ISSUER, AUDIENCE, JWKS_URI, http_client=jwks)
            app = factory(settings, verifier=verifier)
            await stack.enter_async_context(app.router.lifespan_context(app))
            return app, await stack.enter_async_context(serve(app))

        plan = plan_settings(plan_url)
        eligibility_app, eligibility_url = await started(eligibility.create_app, plan)
        _, claims_url = await started(claims.create_app, plan)
        edge = GatewaySettings(
            environment="test",
            issuer=ISSUER,
            audience=AUDIENCE,
            eligibility_url=eligibility_url,
            claims_url=claims_url,
        )
        gateway_app, gateway_url = await started(create_gateway, edge)
        client = await stack.enter_async_context(httpx.AsyncClient(base_url=gateway_url))
        yield Stack(client, gateway_app, eligibility_app)


def by_id(spans: list[ReadableSpan]) -> dict[int, ReadableSpan]:
    return {span.context.span_id: span for span in spans if span.context is not None}


def ancestors(span: ReadableSpan, spans: dict[int, ReadableSpan]) -> list[ReadableSpan]:
    found = []
    while span.parent is not None and span.parent.span_id in spans:
        span = spans[span.parent.span_id]
        found.append(span)
    return found


def texts(span: ReadableSpan) -> list[str]:
    """Everything a span carries out of the process, as text."""
    carried = [span.name, span.status.description or ""]
    carried += [f"{k}={v!r}" for k, v in (span.attributes or {}).items()]
    for event in span.events:
        carried += [f"{k}={v!r}" for k, v in (event.attributes or {}).items()]
    return carried


def service(span: ReadableSpan) -> str:
    return str(span.resource.attributes["service.name"])


async def test_one_trace_spans_gateway_and_service(
    plan_url: str, exported: InMemorySpanExporter
) -> None:
    issuer = TestIssuer()
    token = issuer.mint()
    headers = {"Authorization": f"Bearer {token}", "X-Request-ID": "trace-test-1"}
    async with running(plan_url, issuer) as stack:
        answer = await stack.client.post(
            f"/eligibility/v1/inquiries?member_id={MEMBER}", json=INQUIRY, headers=headers
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "active"
    assert answer.headers["X-Request-ID"] == "trace-test-1"  # the request id is untouched

    spans = list(exported.get_finished_spans())
    http = [s for s in spans if s.attributes and "http.method" in s.attributes]
    assert len(http) == 3  # the gateway's server and client spans, eligibility's server span
    assert len({s.context.trace_id for s in http if s.context}) == 1  # ONE trace
    edge = [s for s in spans if s.kind is SpanKind.SERVER and service(s) == "tinpass-gateway"]
    assert [s.name for s in edge] == ["POST /eligibility/{path:path}"]
    assert edge[0].parent is None  # the caller sent no traceparent: the trace starts here
    assert edge[0].attributes is not None
    assert edge[0].attributes["http.route"] == "/eligibility/{path:path}"
    assert edge[0].attributes["http.status_code"] == 200

    forwarding = [s for s in spans if s.kind is SpanKind.CLIENT and service(s) == "tinpass-gateway"]
    assert len(forwarding) == 1 and forwarding[0].name == "POST"
    assert forwarding[0].parent is not None and edge[0].context is not None
    assert forwarding[0].parent.span_id == edge[0].context.span_id

    served = [s for s in spans if s.kind is SpanKind.SERVER and service(s) == "tinpass-eligibility"]
    assert [s.name for s in served] == ["POST /eligibility/v1/inquiries"]
    assert served[0].parent is not None and forwarding[0].context is not None
    assert served[0].parent.span_id == forwarding[0].context.span_id  # via traceparent
    assert served[0].parent.is_remote

    everything = by_id(spans)
    assert served[0].context is not None
    trace = served[0].context.trace_id
    queries = [s for s in spans if s.context and s.context.trace_id == trace and s not in http]
    assert len(queries) >= 2, [s.name for s in spans]  # the inquiry's reads, its audit event
    for query in queries:
        assert query.attributes and query.attributes["db.system"] in ("sqlite", "postgresql")
        assert service(query) == "tinpass-eligibility"
        assert served[0] in ancestors(query, everything)
        statement = str(query.attributes.get("db.statement", "")) if query.attributes else ""
        assert statement and MEMBER not in statement

    for span in spans:
        for text in texts(span):
            assert MEMBER not in text and token not in text and "Bearer" not in text, text
            assert "1985-04-12" not in text, text


async def test_a_claim_number_in_the_path_is_not_exported(
    plan_url: str, exported: InMemorySpanExporter
) -> None:
    issuer = TestIssuer()
    headers = {"Authorization": f"Bearer {issuer.mint()}"}
    async with running(plan_url, issuer) as stack:
        found = await stack.client.get("/claims/v1/claims", headers=headers)
        number = found.json()["claims"][0]["claim_number"]
        exported.clear()
        claim = await stack.client.get(
            f"/claims/v1/claims/{number}?member_id={MEMBER}", headers=headers
        )
    assert claim.status_code == 200, claim.text
    spans = list(exported.get_finished_spans())
    served = [s for s in spans if s.kind is SpanKind.SERVER and service(s) == "tinpass-claims"]
    assert [s.name for s in served] == ["GET /claims/v1/claims/{claim_number}"]
    assert served[0].attributes is not None
    # the instrumentation's raw target (path and query) became the route template
    assert served[0].attributes["http.target"] == "/claims/v1/claims/{claim_number}"
    for span in spans:
        for text in texts(span):
            assert number not in text and MEMBER not in text, text


def _middlewares(app: FastAPI) -> list[str]:
    stack: Any = app.build_middleware_stack()
    names = []
    while stack is not None:
        names.append(type(stack).__module__)
        stack = getattr(stack, "app", None)
    return names


def _engine(app: FastAPI) -> AsyncEngine:
    bind = app.state.sessionmaker.kw["bind"]
    assert isinstance(bind, AsyncEngine)
    return bind


async def test_off_by_default_nothing_is_installed(plan_url: str, no_otel_variables: None) -> None:
    issuer = TestIssuer()
    async with running(plan_url, issuer) as stack:
        answer = await stack.client.post(
            "/eligibility/v1/inquiries",
            json=INQUIRY,
            headers={"Authorization": f"Bearer {issuer.mint()}"},
        )
        assert answer.status_code == 200, answer.text
        assert tracing.provider("gateway") is None
        for app in (stack.gateway, stack.eligibility):
            assert not getattr(app, "_is_instrumented_by_opentelemetry", False)
            assert not [m for m in _middlewares(app) if m.startswith("opentelemetry")]
        for pool in stack.gateway.state.upstreams.pools.values():
            assert list(pool.session.trace_configs) == []
        assert not _engine(stack.eligibility).sync_engine.dispatch.before_cursor_execute
    assert not hasattr(BackgroundTask, "_otel_original_call")  # the on tests undid theirs
