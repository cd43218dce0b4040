"""policy.observability on a small Starlette application: route templates (and one
`unmatched` series), request ids kept or replaced, methods folded, a failure logged
as 500, and the log line's fields."""

from __future__ import annotations

import logging

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from policy import metrics
from policy.logs import JsonFormatter
from tests.support.metrics import parse, value


async def member(request: Request) -> PlainTextResponse:
    if request.path_params["member_id"] == "boom":
        raise RuntimeError("patient M1000101 exploded")
    return PlainTextResponse(request.state.request_id)


def application() -> Starlette:
    app = Starlette(
        routes=[
            Route("/members/{member_id}", member),
            Mount("/files", PlainTextResponse("file")),
        ]
    )
    metrics.install(app, "unit")
    return app


@pytest.fixture
def client() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=application(), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://unit.test")


def count(route: str, status: str, method: str = "GET") -> float:
    samples = parse(metrics.exposition().decode())
    name = "tinpass_http_request_duration_seconds_count"
    return value(samples, name, service="unit", method=method, route=route, status=status)


async def test_routes_are_templates_and_others_one_series(client: httpx.AsyncClient) -> None:
    before = (count("/members/{member_id}", "2xx"), count("unmatched", "4xx", "OTHER"))
    before_files = count("/files/{path}", "2xx")
    async with client:
        assert (await client.get("/members/M1")).status_code == 200
        assert (await client.get("/files/a/b")).status_code == 200
        assert (await client.request("PURGE", "/nowhere/M2")).status_code == 404
    assert count("/members/{member_id}", "2xx") - before[0] == 1
    assert count("unmatched", "4xx", "OTHER") - before[1] == 1
    assert count("/files/{path}", "2xx") - before_files == 1


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("abc-123.x_y", True), ("<script>", False), ("x" * 65, False), ("", False)],
)
async def test_request_ids_are_kept_when_safe(
    client: httpx.AsyncClient, sent: str, kept: bool
) -> None:
    async with client:
        response = await client.get("/members/M1", headers={"X-Request-ID": sent})
    given = response.headers["x-request-id"]
    assert response.text == given and (given == sent) is kept and len(given) <= 64


async def test_an_escaped_failure_is_logged_as_500_without_its_message(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="tinpass.access"):
        async with client:
            assert (await client.get("/members/boom")).status_code == 500
    (record,) = [r for r in caplog.records if r.name == "tinpass.access"]
    line = JsonFormatter().format(record)
    assert '"status":500' in line and '"route":"/members/{member_id}"' in line
    assert "boom" not in line and "M1000101" not in line


async def test_the_line_carries_the_active_trace_id(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    from opentelemetry.sdk.trace import TracerProvider

    tracer = TracerProvider().get_tracer("test")
    with caplog.at_level(logging.INFO, logger="tinpass.access"):
        async with client:
            with tracer.start_as_current_span("outer") as span:
                assert (await client.get("/members/M1")).status_code == 200
            assert (await client.get("/members/M1")).status_code == 200
    traced, untraced = [r.args for r in caplog.records if r.name == "tinpass.access"]
    assert isinstance(traced, dict) and isinstance(untraced, dict)
    assert traced["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert "trace_id" not in untraced
