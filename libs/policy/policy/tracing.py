"""OpenTelemetry tracing for every service: off unless the standard `OTEL_*` variables
turn it on, and then only redacted spans leave the process (policy.tracing_redact).

On when `OTEL_TRACES_EXPORTER` names an exporter (`otlp`, over http/protobuf, or
`console`; several separated by commas) and `OTEL_SDK_DISABLED` is not `true`. The
OpenTelemetry SDK reads the rest itself: `OTEL_SERVICE_NAME` (default `tinpass-<service>`),
`OTEL_RESOURCE_ATTRIBUTES`, `OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`, `..._HEADERS`,
`..._TIMEOUT`, `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`, `OTEL_BSP_*`,
`OTEL_PROPAGATORS` (W3C `traceparent` by default).

Off, nothing is installed: each `instrument_*` call returns at once and the app, its
engine and its HTTP clients are exactly those of a build without tracing; the
OpenTelemetry SDK and instrumentations are not even imported. On, every service gets:
ASGI server spans for the whole app (`instrument_app`: every route, the lean Starlette
endpoints too, named by route template), SQLAlchemy spans (`instrument_engine`), aiohttp
client spans that inject `traceparent` (`aiohttp_trace_configs`, the gateway's upstream
pools) and httpx client spans (`instrument_httpx`).

No global state of OpenTelemetry is set: each service gets its own tracer provider
(its own `service.name`) built on shared span processors, handed to each instrumentation.
Tests install processors of their own with `use_processors` and undo it with `reset`.
"""

from __future__ import annotations

import atexit
import os
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import aiohttp
    import httpx
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from sqlalchemy.ext.asyncio import AsyncEngine
    from starlette.applications import Starlette

PREFIX = "tinpass-"
# Probes and scrapes every few seconds are not worth a trace, unless told otherwise.
EXCLUDED_URLS = "/healthz,/readyz,/metrics"
EXCLUDED_URLS_VARIABLES = ("OTEL_PYTHON_FASTAPI_EXCLUDED_URLS", "OTEL_PYTHON_EXCLUDED_URLS")
PROTOCOL_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")


class TracingMisconfigured(ValueError):
    """The OTEL_* variables ask for something this build does not do."""


_processors: list[SpanProcessor] | None = None
_providers: dict[str, TracerProvider] = {}
_apps: weakref.WeakSet[Any] = weakref.WeakSet()  # instrumented, for `reset`
_owned: list[SpanProcessor] = []  # built from the environment: shut down at exit


def exporters_named(environ: dict[str, str] | os._Environ[str] = os.environ) -> list[str]:
    """The exporters the environment asks for; none (tracing off) unless it names one."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    names = [n.strip().lower() for n in environ.get("OTEL_TRACES_EXPORTER", "").split(",")]
    return [name for name in names if name and name != "none"]


def _exporter(name: str) -> Any:
    if name == "otlp":
        protocol = next(
            (os.environ[v] for v in PROTOCOL_VARIABLES if os.environ.get(v)), "http/protobuf"
        )
        if protocol.strip() != "http/protobuf":
            raise TracingMisconfigured(
                f"OTLP protocol {protocol!r} is not available: TINpass exports traces over "
                "http/protobuf (unset OTEL_EXPORTER_OTLP_PROTOCOL or set it to http/protobuf; "
                "point OTEL_EXPORTER_OTLP_ENDPOINT at the collector's HTTP port, 4318)"
            )
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    raise TracingMisconfigured(
        f"OTEL_TRACES_EXPORTER={name!r} is not available: use otlp, console or none"
    )


def _processors_from_environment() -> list[SpanProcessor]:
    names = exporters_named()
    if not names:
        return []
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    return [BatchSpanProcessor(_exporter(name)) for name in names]


def use_processors(*processors: SpanProcessor) -> None:
    """Trace with these processors instead of the environment's (tests); `reset` undoes it."""
    global _processors
    reset()
    from policy.tracing_redact import Redacting

    _processors = [Redacting(p) for p in processors]


def reset() -> None:
    """Undo the instrumentation of apps and engines, forget the processors and providers
    (flushed first): the environment decides again (tests)."""
    global _processors
    if _apps or _providers:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
        from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer

        for app in list(_apps):
            FastAPIInstrumentor.uninstrument_app(app)
        _apps.clear()
        EngineTracer.remove_all_event_listeners()
    for built in _providers.values():
        built.force_flush()
    _providers.clear()
    _processors = None
    atexit.unregister(_shutdown)
    _shutdown()


def _shutdown() -> None:
    while _owned:
        _owned.pop().shutdown()  # a batch processor sends what it holds


def provider(service: str) -> TracerProvider | None:
    """The tracer provider of `service` (`identity`, `eligibility`...), None when off."""
    global _processors
    if _processors is None:
        from_environment = _processors_from_environment()
        if from_environment:
            from policy.tracing_redact import Redacting

            _processors = [Redacting(p) for p in from_environment]
            _owned.extend(_processors)
            atexit.register(_shutdown)
        else:
            _processors = []
    if not _processors:
        return None
    if service not in _providers:
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider

        resource = Resource.create()
        if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
            resource = resource.merge(Resource({SERVICE_NAME: PREFIX + service}))
        built = TracerProvider(resource=resource, shutdown_on_exit=False)
        for processor in _processors:
            built.add_span_processor(processor)
        _providers[service] = built
    return _providers[service]


def _no_meters() -> Any:
    from opentelemetry.metrics import NoOpMeterProvider

    return NoOpMeterProvider()  # metrics are prometheus-client's (docs/observability.md)


def _excluded_urls() -> str | None:
    if any(os.environ.get(v) for v in EXCLUDED_URLS_VARIABLES):
        return None  # the instrumentation reads them
    return EXCLUDED_URLS


def instrument_app(app: Starlette, service: str) -> None:
    """Server spans for every request the whole app answers, continuing `traceparent`."""
    traced = provider(service)
    if traced is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,  # type: ignore[arg-type]  # any Starlette app; ours are FastAPI's
        tracer_provider=traced,
        meter_provider=_no_meters(),
        excluded_urls=_excluded_urls(),
        exclude_spans=["receive", "send"],
    )
    _apps.add(app)


def instrument_engine(engine: AsyncEngine, service: str) -> None:
    """A span per statement, with its placeholders (never its parameters); no comments."""
    traced = provider(service)
    if traced is None:
        return
    from opentelemetry.instrumentation.sqlalchemy import __version__
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer

    tracer = traced.get_tracer("opentelemetry.instrumentation.sqlalchemy", __version__)
    usage = _no_meters().get_meter(__name__).create_up_down_counter("db.client.connections")
    EngineTracer(tracer, engine.sync_engine, usage, enable_commenter=False)


def aiohttp_trace_configs(service: str) -> list[aiohttp.TraceConfig]:
    """Client spans for an aiohttp session, injecting `traceparent`; [] when off."""
    traced = provider(service)
    if traced is None:
        return []
    from opentelemetry.instrumentation.aiohttp_client import create_trace_config
    from yarl import URL

    def origin_only(url: URL) -> str:
        return str(url.origin())

    return [
        create_trace_config(
            url_filter=origin_only,
            tracer_provider=traced,
            meter_provider=_no_meters(),
            captured_request_headers=[],
            captured_response_headers=[],
        )
    ]


def instrument_httpx(client: httpx.AsyncClient, service: str) -> None:
    """Client spans for one httpx client (and `traceparent` on its requests)."""
    traced = provider(service)
    if traced is None:
        return
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor.instrument_client(
        client, tracer_provider=traced, meter_provider=_no_meters()
    )
