"""Every error is an RFC 9457 problem with a stable type and a detail a person can act on."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
from joserfc.jwk import RSAKey
from starlette.applications import Starlette

from policy import PROBLEM_JSON, TokenVerifier
from provider_data.api import claims, eligibility
from tests.provider_data.conftest import Plan, plan_settings, serve
from tests.support.databases import fresh_database
from tests.support.tokens import AUDIENCE, ISSUER, JWKS_URI

INQUIRY = {"member_id": "M1000101", "date_of_birth": "1985-04-12"}
TYPES = "https://tinpass.dev/problems/"


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert (body["type"], body["status"]) == (TYPES + slug, status)
    assert body["title"] and body["detail"]
    return body


async def test_unknown_paths_and_methods(plan: Plan) -> None:
    missing = await plan.eligibility.get("/eligibility/v2/inquiries")
    wrong_method = await plan.eligibility.get("/eligibility/v1/inquiries")
    assert "/eligibility/v2/inquiries" in str(assert_problem(missing, 404, "no-such-endpoint"))
    body = assert_problem(wrong_method, 405, "method-not-allowed")
    assert wrong_method.headers["allow"] == "POST" and "use POST" in str(body["detail"])


async def test_tokens_that_fail_verification_are_401_with_a_challenge(plan: Plan) -> None:
    rogue = RSAKey.generate_key(2048, parameters={"kid": "rogue", "alg": "RS256"})
    attempts = {
        "Bearer not-a-jwt": "token is not a JWS in compact form",
        f"Bearer {plan.issuer.mint(key=rogue)}": "token is signed by an unknown key",
        f"Bearer {plan.issuer.mint(aud='another-api')}": "token is for another audience",
        f"Bearer {plan.issuer.mint(header={'typ': 'JWT'})}": "typ must be at+jwt",
    }
    for header, reason in attempts.items():
        response = await plan.claims.get("/claims/v1/claims", headers={"Authorization": header})
        assert reason in str(assert_problem(response, 401, "unauthorized")["detail"])
        assert response.headers["www-authenticate"].startswith(
            'Bearer realm="tinpass", error="invalid_token"'
        )
    basic = await plan.claims.get("/claims/v1/claims", headers={"Authorization": "Basic eDp5"})
    assert "Bearer <token>" in str(assert_problem(basic, 401, "unauthorized")["detail"])
    assert basic.headers["www-authenticate"] == 'Bearer realm="tinpass"'


async def test_a_missing_scope_is_403_with_the_rfc6750_challenge(plan: Plan) -> None:
    response = await plan.claims.get("/claims/v1/claims", headers=plan.auth(scope="openid"))
    body = assert_problem(response, 403, "insufficient-scope")
    assert "claims:read" in str(body["detail"])
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


async def test_invalid_query_is_a_422_naming_the_field(plan: Plan) -> None:
    response = await plan.claims.get(
        "/claims/v1/claims", params={"limit": 0, "service_date_from": "soon"}, headers=plan.auth()
    )
    body = assert_problem(response, 422, "validation")
    fields = {str(error["field"]) for error in body["errors"]}
    assert fields == {"query.limit", "query.service_date_from"}


async def test_an_unexpected_failure_is_a_500_problem_without_internals(
    plan: Plan, tmp_path: Path
) -> None:
    async with fresh_database("unmigrated", tmp_path) as url, AsyncExitStack() as stack:
        jwks = await stack.enter_async_context(plan.issuer.http_client())
        verifier = TokenVerifier(ISSUER, AUDIENCE, JWKS_URI, http_client=jwks)
        client = await serve(
            stack, eligibility.create_app, plan_settings(url), verifier, raise_app_exceptions=False
        )
        response = await client.post(
            "/eligibility/v1/inquiries",
            json=INQUIRY,
            headers={**plan.auth(), "X-Request-ID": "req-500"},
        )
    body = assert_problem(response, 500, "internal-error")
    assert body["request_id"] == "req-500"
    assert "provider_records" not in response.text and "M1000101" not in response.text


async def test_not_ready_without_the_issuers_keys(plan: Plan) -> None:
    async with (
        AsyncExitStack() as stack,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=Starlette()), base_url=ISSUER
        ) as no_keys,
    ):
        verifier = TokenVerifier(ISSUER, AUDIENCE, JWKS_URI, http_client=no_keys)
        client = await serve(stack, claims.create_app, plan_settings(plan.database_url), verifier)
        ready = await client.get("/readyz")
        refused = await client.get("/claims/v1/claims", headers=plan.auth())
    assert assert_problem(ready, 503, "not-ready")["checks"] == {
        "database": "ok",
        "jwks": "not loaded",
    }
    assert int(ready.headers["retry-after"]) > 0
    assert "signing keys cannot be loaded" in str(assert_problem(refused, 401, "unauthorized"))
