"""policy.tracing: off unless the OTEL_* variables name an exporter; what a span may carry.

The trace across gateway and service is tests/gateway/test_tracing.py; identity's lean
endpoints, tests/identity/test_tracing.py."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from policy import tracing
from policy.tracing_redact import attributes, scrub_statement


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No OTEL_* variable of the machine's; whatever the test sets is undone, and so is
    the tracing it turned on."""
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    tracing.reset()
    yield monkeypatch
    tracing.reset()


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({}, []),
        ({"OTEL_TRACES_EXPORTER": "none"}, []),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, ["otlp"]),
        ({"OTEL_TRACES_EXPORTER": " OTLP , console "}, ["otlp", "console"]),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, []),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "false"}, ["otlp"]),
    ],
)
def test_exporters_named(variables: dict[str, str], named: list[str]) -> None:
    assert tracing.exporters_named(variables) == named


def test_off_without_an_exporter(environ: pytest.MonkeyPatch) -> None:
    environ.setenv("OTEL_SERVICE_NAME", "ignored")  # naming a service turns nothing on
    assert tracing.provider("identity") is None
    assert tracing.aiohttp_trace_configs("gateway") == []


def test_on_with_otlp_named_after_the_service(environ: pytest.MonkeyPatch) -> None:
    environ.setenv("OTEL_TRACES_EXPORTER", "otlp")
    environ.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")  # never reached
    environ.setenv("OTEL_TRACES_SAMPLER", "traceidratio")
    environ.setenv("OTEL_TRACES_SAMPLER_ARG", "0.25")
    built = tracing.provider("eligibility")
    assert built is not None
    assert built.resource.attributes["service.name"] == "tinpass-eligibility"
    assert tracing.provider("eligibility") is built  # one per service
    assert "0.25" in built.sampler.get_description()  # the SDK read the sampler variables
    assert len(tracing.aiohttp_trace_configs("gateway")) == 1


def test_otel_service_name_wins(environ: pytest.MonkeyPatch) -> None:
    environ.setenv("OTEL_TRACES_EXPORTER", "console")
    environ.setenv("OTEL_SERVICE_NAME", "cascade-gateway")
    built = tracing.provider("gateway")
    assert built is not None and built.resource.attributes["service.name"] == "cascade-gateway"


@pytest.mark.parametrize(
    ("variables", "says"),
    [
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "use otlp, console or none"),
        (
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
            "http/protobuf",
        ),
    ],
)
def test_what_this_build_cannot_do_is_refused(
    environ: pytest.MonkeyPatch, variables: dict[str, str], says: str
) -> None:
    for name, value in variables.items():
        environ.setenv(name, value)
    with pytest.raises(tracing.TracingMisconfigured, match=says):
        tracing.provider("claims")


def test_statements_keep_placeholders_and_lose_literals() -> None:
    statement = (
        "SELECT t1.a FROM members AS t1 WHERE t1.member_id = 'M1000101' AND t1.n = 42 "
        "AND t1.x = $1 AND t1.y = :name AND t1.z = ? AND t1.w = 'O''Brien' LIMIT 10"
    )
    assert scrub_statement(statement) == (
        "SELECT t1.a FROM members AS t1 WHERE t1.member_id = ? AND t1.n = ? "
        "AND t1.x = $1 AND t1.y = :name AND t1.z = ? AND t1.w = ? LIMIT ?"
    )


def test_request_attributes_keep_the_route_and_the_origin_only() -> None:
    raw = {
        "http.method": "GET",
        "http.route": "/claims/v1/claims/{claim_number}",
        "http.target": "/claims/v1/claims/C2026000123?member_id=M1000101",
        "url.path": "/claims/v1/claims/C2026000123",
        "url.query": "member_id=M1000101",
        "http.url": "http://user:pw@claims:8002/claims/v1/claims/C2026000123?member_id=M1000101",
        "http.request.header.authorization": ("Bearer abc",),
        "http.user_agent": "curl/8",
        "net.peer.ip": "10.1.2.3",
        "http.status_code": 200,
    }
    assert attributes(raw) == {
        "http.method": "GET",
        "http.route": "/claims/v1/claims/{claim_number}",
        "http.target": "/claims/v1/claims/{claim_number}",
        "url.path": "/claims/v1/claims/{claim_number}",
        "http.url": "http://claims:8002",
        "http.status_code": 200,
    }
    unrouted = attributes({"http.method": "GET", "http.target": "/nowhere/M1000101"})
    assert unrouted == {"http.method": "GET"}


def test_exported_spans_are_redacted(environ: pytest.MonkeyPatch) -> None:
    exporter = InMemorySpanExporter()
    tracing.use_processors(SimpleSpanProcessor(exporter))
    built = tracing.provider("claims")
    assert built is not None
    tracer = built.get_tracer("test")
    with tracer.start_as_current_span(
        "GET /claims/v1/claims/C2026000123",
        kind=SpanKind.SERVER,
        attributes={"http.method": "GET", "http.target": "/claims/v1/claims/C2026000123"},
    ) as span:
        span.record_exception(ValueError("member M1000101 not found"))
        span.set_status(Status(StatusCode.ERROR, "ValueError: member M1000101 not found"))
    [exported] = exporter.get_finished_spans()
    assert isinstance(exported, ReadableSpan)
    assert exported.name == "GET"  # no route: the method alone
    assert dict(exported.attributes or {}) == {"http.method": "GET"}
    assert exported.status.status_code is StatusCode.ERROR
    assert exported.status.description is None
    [event] = exported.events
    assert dict(event.attributes or {}) == {
        "exception.type": "ValueError",
        "exception.escaped": "False",
    }
