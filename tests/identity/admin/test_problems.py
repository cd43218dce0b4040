"""Every error of identity's REST APIs is an RFC 9457 problem, including the ones
FastAPI raises before a route runs (found by the API fuzzer: a body that is not
JSON answered `{"detail": "There was an error parsing the body"}`)."""

from __future__ import annotations

import httpx

from tests.identity.admin_flows import admin_token, bearer, org_id_of
from tests.identity.harness import IdentityHarness

PROBLEM_JSON = "application/problem+json"


def _problem(answer: httpx.Response, status: int) -> dict[str, object]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM_JSON
    body: dict[str, object] = answer.json()
    assert body["status"] == status and body["type"] and body["title"]
    return body


async def test_a_body_that_is_not_json_is_a_problem(identity: IdentityHarness) -> None:
    token = await admin_token(identity, "ever.admin")
    org = await org_id_of(identity, "Evergreen Family Clinic")
    async with identity.client() as client:
        answer = await client.post(
            f"/api/v1/organizations/{org}/tax-ids",
            content=b"\xff<not json",
            headers={**bearer(token), "Content-Type": "application/json"},
        )
    assert "not valid JSON" in str(_problem(answer, 400)["detail"])


async def test_unknown_paths_and_methods_under_api_are_problems(identity: IdentityHarness) -> None:
    async with identity.client() as client:
        missing = await client.get("/api/v1/nothing-here")
        wrong = await client.put("/api/v1/operator/registrations")
    assert "/docs" in str(_problem(missing, 404)["detail"])
    assert "GET" in str(_problem(wrong, 405)["detail"])


async def test_pages_keep_their_own_errors(identity: IdentityHarness) -> None:
    async with identity.client() as client:
        missing = await client.get("/no-such-page")
    assert missing.status_code == 404
    assert not missing.headers["content-type"].startswith(PROBLEM_JSON)
