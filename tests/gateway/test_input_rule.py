"""The one input rule at the edge: a header value with non-ASCII bytes (which broke
forwarding with UnicodeEncodeError) or a control character in the path or query is
refused with a 400 problem naming it, before the token check and any upstream
call; an unsafe X-Request-ID (markup, 5,000 characters) is replaced, never echoed."""

from __future__ import annotations

import uuid

import pytest

from tests.gateway.conftest import Edge


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("x-note", "caf\u00e9".encode()),
        ("user-agent", b"agent \xff\xfe"),
        ("accept-language", "\u65e5\u672c".encode()),
    ],
)
async def test_non_ascii_header_bytes_are_refused(edge: Edge, name: str, value: bytes) -> None:
    headers = [(k.encode(), v.encode()) for k, v in edge.auth(scope="claims:read").items()]
    answer = await edge.client.get("/claims/v1/claims", headers=[*headers, (name.encode(), value)])
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["field"] == f"header {name}"
    assert "non-ASCII" in answer.json()["detail"]
    assert edge.upstream.seen == []


@pytest.mark.parametrize("target", ["/claims/v1/claims/a%00b", "/claims/v1/claims?cursor=%00"])
async def test_control_characters_in_path_or_query_are_refused(edge: Edge, target: str) -> None:
    answer = await edge.client.get(target, headers=edge.auth(scope="claims:read"))
    assert answer.status_code == 400 and "control character" in answer.json()["detail"]
    assert edge.upstream.seen == []


@pytest.mark.parametrize("supplied", ["<script>alert(1)</script>", "r" * 5000, "id with spaces"])
async def test_unsafe_request_ids_are_replaced_everywhere(edge: Edge, supplied: str) -> None:
    headers = {"X-Request-ID": supplied}
    refused = await edge.client.get("/claims/v1/claims", headers=headers)
    passed = await edge.client.get(
        "/claims/v1/claims", headers={**headers, **edge.auth(scope="claims:read")}
    )
    for answer in (refused, passed):
        made = answer.headers["x-request-id"]
        assert made != supplied and uuid.UUID(made)
    assert (
        refused.status_code == 401
        and refused.json()["request_id"] == refused.headers["x-request-id"]
    )
    assert supplied not in refused.text
    assert edge.upstream.seen[0]["headers"]["x-request-id"] == passed.headers["x-request-id"]
