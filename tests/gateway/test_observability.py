"""The gateway observed: its request id reaches the upstream and the log line, which
names the client and never the token or the path; upstream errors and rate-limit
refusals counted; /metrics only to a scraper that reaches it directly."""

from __future__ import annotations

import json

import pytest

from tests.gateway.conftest import Edge, gateway, running_upstream
from tests.support.metrics import access_lines, scrape, value
from tests.support.tokens import TestIssuer


async def test_request_id_reaches_the_upstream_and_the_log_line(
    edge: Edge, capsys: pytest.CaptureFixture[str]
) -> None:
    token = edge.issuer.mint(client_id="acme-curl", org_id="org-7")
    access_lines(capsys)
    response = await edge.client.get(
        "/claims/v1/claims",
        params={"member_id": "M1000101"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
    request_id = response.headers["x-request-id"]
    assert edge.upstream.seen[-1]["headers"]["x-request-id"] == request_id
    (line,) = access_lines(capsys)
    assert line["request_id"] == request_id and line["route"] == "/claims/{path}"
    assert line["client_id"] == "acme-curl" and line["organization"] == "org-7"
    assert line["service"] == "gateway" and line["status"] == 200
    written = json.dumps(line)
    assert token not in written and "M1000101" not in written and "v1/claims" not in written


async def test_upstream_errors_are_counted_per_upstream(edge_without_upstream: Edge) -> None:
    labels = {"upstream": "eligibility", "kind": "unreachable"}
    before = value(
        await scrape(edge_without_upstream.client), "tinpass_upstream_errors_total", **labels
    )
    response = await edge_without_upstream.client.get(
        "/eligibility/v1/ping", headers=edge_without_upstream.auth()
    )
    assert response.status_code == 502
    after = value(
        await scrape(edge_without_upstream.client), "tinpass_upstream_errors_total", **labels
    )
    assert after - before == 1


async def test_rate_limit_refusals_are_counted() -> None:
    labels = {"service": "gateway", "limit": "client"}
    async with (
        running_upstream() as (upstream, url),
        gateway(TestIssuer(), upstream, url, rate_limit_per_client="1/minute") as edge,
    ):
        before = value(await scrape(edge.client), "tinpass_rate_limit_rejections_total", **labels)
        headers = edge.auth(client_id="limited-client")
        answers = [
            (await edge.client.get("/claims/v1/x", headers=headers)).status_code for _ in "ab"
        ]
        after = value(await scrape(edge.client), "tinpass_rate_limit_rejections_total", **labels)
    assert answers == [200, 429]
    assert after - before == 1


async def test_metrics_answer_only_a_direct_scraper(edge: Edge) -> None:
    for header in ("X-Forwarded-For", "X-Real-IP", "Forwarded"):
        through_a_proxy = await edge.client.get("/metrics", headers={header: "203.0.113.9"})
        assert through_a_proxy.status_code == 404 and "tinpass" not in through_a_proxy.text
    direct = await scrape(edge.client)
    assert value(direct, "tinpass_http_request_duration_seconds_count", service="gateway",
                 method="GET", route="/metrics", status="4xx") >= 3  # fmt: skip


async def test_metrics_want_the_token_when_one_is_set() -> None:
    async with (
        running_upstream() as (upstream, url),
        gateway(TestIssuer(), upstream, url, metrics_token="scrape-secret-1") as edge,
    ):
        missing = await edge.client.get("/metrics")
        wrong = await edge.client.get("/metrics", headers={"Authorization": "Bearer nope"})
        right = await edge.client.get(
            "/metrics", headers={"Authorization": "Bearer scrape-secret-1"}
        )
    assert missing.status_code == wrong.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert right.status_code == 200 and "tinpass_http_request_duration_seconds" in right.text
