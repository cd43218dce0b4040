"""Identity traced (policy.tracing): the lean OAuth endpoints mounted beside FastAPI's
routes (/token, /introspect, /revoke) get server spans too, and no secret leaves."""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from identity.app import create_app
from identity.settings import Settings
from policy import tracing

SECRET = "not-the-secret-Zq81"


@pytest.fixture
def exported(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    exporter = InMemorySpanExporter()
    tracing.use_processors(SimpleSpanProcessor(exporter))
    yield exporter
    tracing.reset()
    exporter.shutdown()


async def test_token_and_introspect_are_traced(
    settings: Settings, exported: InMemorySpanExporter
) -> None:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://idp.test") as client:
            form = {"grant_type": "client_credentials"}
            token = await client.post("/token", data=form, auth=("nobody", SECRET))
            peek = await client.post("/introspect", data={"token": SECRET}, auth=("nobody", SECRET))
    assert token.status_code == 401 and token.json()["error"] == "invalid_client"
    assert peek.status_code == 401
    spans = exported.get_finished_spans()
    served = {s.name: s for s in spans if s.kind is SpanKind.SERVER}
    assert set(served) == {"POST /token", "POST /introspect"}
    assert served["POST /token"].resource.attributes["service.name"] == "tinpass-identity"
    token_span = served["POST /token"].context
    assert token_span is not None
    lookups = [s for s in spans if s.parent is not None and s.parent.span_id == token_span.span_id]
    assert lookups and all(s.attributes and "db.system" in s.attributes for s in lookups)
    for span in spans:
        carried = [span.name, *(f"{k}={v!r}" for k, v in (span.attributes or {}).items())]
        assert not [text for text in carried if SECRET in text or "nobody" in text]
