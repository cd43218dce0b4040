"""The plan's apps observed: /metrics by route template, one access-log line per
request that names the client but never the member, the token or the path, refusals
counted by reason, the database pool and the access trail's sealing lag."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from provider_data.platform.audit import SERVICE
from tests.provider_data.conftest import Plan
from tests.support.metrics import access_lines, scrape, value

SECONDS = "tinpass_http_request_duration_seconds_count"


async def test_requests_are_counted_by_route_template(plan: Plan) -> None:
    missing = f"C-{uuid.uuid4().hex[:8]}"
    headers = plan.auth(tax_ids=["123456789"])
    before = await scrape(plan.claims)
    for _ in range(2):
        response = await plan.claims.get(f"/claims/v1/claims/{missing}", headers=headers)
        assert response.status_code == 404
    listed = await plan.claims.get("/claims/v1/claims", headers=headers)
    assert listed.status_code == 200
    after = await scrape(plan.claims)
    one = {"service": "claims", "method": "GET", "route": "/claims/v1/claims/{claim_number}"}
    assert (
        value(after, SECONDS, **one, status="4xx") - value(before, SECONDS, **one, status="4xx")
        == 2
    )
    listing = {"service": "claims", "method": "GET", "route": "/claims/v1/claims", "status": "2xx"}
    assert value(after, SECONDS, **listing) - value(before, SECONDS, **listing) == 1
    assert (
        value(after, "tinpass_http_request_duration_seconds_bucket", **one, status="4xx", le="+Inf")
        >= 2
    )
    assert not any(missing in str(labels) for _, labels in after), "never a path in a label"


async def test_paths_no_route_takes_share_one_series(plan: Plan) -> None:
    before = await scrape(plan.eligibility)
    made_up = [f"/{uuid.uuid4().hex}" for _ in range(3)]
    for path in made_up:
        assert (await plan.eligibility.request("BREW", path)).status_code in (404, 405)
    text = (await plan.eligibility.get("/metrics")).text
    after = await scrape(plan.eligibility)
    series = {"service": "eligibility", "method": "OTHER", "route": "unmatched", "status": "4xx"}
    assert value(after, SECONDS, **series) - value(before, SECONDS, **series) == 3
    assert not any(path[1:] in text for path in made_up)


async def test_one_json_line_per_request_and_no_secrets_in_it(
    plan: Plan, capsys: pytest.CaptureFixture[str]
) -> None:
    token = plan.issuer.mint(tax_ids=["123456789"], client_id="acme-integrator", org_id="org-42")
    claim = (
        await plan.claims.get(
            "/claims/v1/claims", params={"limit": 1}, headers={"Authorization": f"Bearer {token}"}
        )
    ).json()["claims"][0]
    access_lines(capsys)  # only what follows
    response = await plan.claims.get(
        f"/claims/v1/claims/{claim['claim_number']}/eob",
        params={"member_id": claim["member_id"]},
        headers={"Authorization": f"Bearer {token}", "X-Request-ID": "observed-1"},
    )
    assert response.status_code == 200 and response.headers["x-request-id"] == "observed-1"
    refused = await plan.claims.get(
        "/claims/v1/claims",
        params={"member_id": claim["member_id"]},
        headers={"Authorization": "Bearer not-a-token", "X-Request-ID": "<b>x</b>"},
    )
    assert refused.status_code == 401
    read, denied = access_lines(capsys)
    assert read == {
        **read,
        "level": "info",
        "message": "http.request",
        "service": "claims",
        "method": "GET",
        "route": "/claims/v1/claims/{claim_number}/eob",
        "status": 200,
        "request_id": "observed-1",
        "client_id": "acme-integrator",
        "organization": "org-42",
    }
    assert set(read) == {
        "time", "level", "logger", "message", "service", "method", "route", "status",
        "duration_ms", "request_id", "client_id", "organization",
    }  # fmt: skip
    assert isinstance(read["duration_ms"], float) and read["duration_ms"] >= 0
    assert denied["status"] == 401 and denied["client_id"] is None
    assert denied["request_id"] == refused.headers["x-request-id"] != "<b>x</b>"
    written = json.dumps([read, denied])
    for secret in (token, "not-a-token", claim["member_id"], claim["claim_number"], "Bearer"):
        assert secret not in written


async def test_refusals_are_counted_by_action_and_reason(plan: Plan) -> None:
    labels = {"action": "eligibility.read", "reason": "no_matching_provider_record"}
    before = value(await scrape(plan.eligibility), "tinpass_access_refusals_total", **labels)
    response = await plan.eligibility.post(
        "/eligibility/v1/inquiries",
        json={"member_id": "M1000101", "date_of_birth": "1985-04-12"},
        headers=plan.auth(tax_ids=["555500011"]),
    )
    assert response.status_code == 403
    after = value(await scrape(plan.eligibility), "tinpass_access_refusals_total", **labels)
    assert after - before == 1


async def test_pool_usage_and_sealing_lag_are_exported(plan: Plan) -> None:
    inquiry = await plan.eligibility.post(
        "/eligibility/v1/inquiries",
        json={"member_id": "M1000101", "date_of_birth": "1985-04-12"},
        headers=plan.auth(),
    )
    assert inquiry.status_code == 200
    samples = await scrape(plan.eligibility)
    in_use = samples[
        ("tinpass_db_pool_connections_in_use", frozenset({("service", "eligibility")}))
    ]
    capacity = value(samples, "tinpass_db_pool_connections_max", service="eligibility")
    assert in_use >= 0 and capacity >= 1
    trail = frozenset({("trail", SERVICE)})
    for _ in range(100):  # the sealer runs every 0.2 s
        samples = await scrape(plan.eligibility)
        if ("tinpass_audit_sealed_timestamp_seconds", trail) in samples:
            break
        await asyncio.sleep(0.1)
    assert samples[("tinpass_audit_sealed_timestamp_seconds", trail)] > 0
    # the value is this process's last round, whichever plan's it was (other tests' trails
    # may hold old events): tests/policy/test_metrics.py checks what it measures
    assert samples[("tinpass_audit_sealing_lag_seconds", trail)] >= 0
