"""Security headers on every page, and throttling of the token endpoint."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from identity.models import AuditEvent
from identity.web.headers import SecurityHeaders
from tests.identity.harness import PORTAL, PORTAL_REDIRECT, IdentityHarness, running_identity
from tests.support.oidc import Pkce, authorize_url


async def test_pages_carry_security_headers(identity: IdentityHarness) -> None:
    async with identity.client() as browser:
        for response in (
            await browser.get(authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new())),
            await browser.get("/.well-known/openid-configuration"),
        ):
            csp = response.headers["content-security-policy"]
            assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
            assert "unsafe-inline" not in csp
            assert response.headers["x-frame-options"] == "DENY"
            assert response.headers["referrer-policy"] == "no-referrer"
            assert response.headers["x-content-type-options"] == "nosniff"
            assert "strict-transport-security" not in response.headers, "HSTS only behind https"


async def test_login_page_has_no_inline_script(identity: IdentityHarness) -> None:
    async with identity.client() as browser:
        page = await browser.get("/login")
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", page.text, re.DOTALL)
    assert re.findall(r"<script[^>]*>", page.text) == ['<script src="/static/time.js" defer>']
    assert scripts == [""] and " on" + "load=" not in page.text


@pytest.fixture(scope="module")
async def throttled_tokens(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[IdentityHarness]:
    async with running_identity(
        tmp_path_factory.mktemp("tls"), token_rate_limit="2/minute"
    ) as harness:
        yield harness


async def test_token_endpoint_is_throttled_per_address(throttled_tokens: IdentityHarness) -> None:
    auth = ("acme-curl", throttled_tokens.credentials.curl_secret)
    async with throttled_tokens.client() as client:
        answers = [
            await client.post("/token", data={"grant_type": "client_credentials"}, auth=auth)
            for _ in range(3)
        ]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].json()["error"] == "temporarily_unavailable"
    assert int(answers[2].headers["retry-after"]) > 0


async def test_failed_client_authentications_are_throttled_and_so_their_audit_events(
    throttled_tokens: IdentityHarness,
) -> None:
    request_id = uuid.uuid4().hex
    headers = {"X-Request-ID": request_id}
    async with throttled_tokens.client("10.0.0.7", headers=headers) as client:
        answers = [
            await client.post(path, data={"token": "x"}, auth=("acme-curl", "wrong"))
            for path in ("/introspect", "/revoke", "/introspect", "/revoke", "/token")
        ]
    async with throttled_tokens.session() as session:
        written = await session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.request_id == request_id)
        )
    assert [a.status_code for a in answers] == [401, 401, 429, 429, 429]
    assert written == 2, "a refused request writes no audit event"


async def test_hsts_is_sent_behind_https() -> None:
    app = Starlette(routes=[Route("/", lambda request: PlainTextResponse("ok"))])
    app.add_middleware(SecurityHeaders, secure=True)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://id.example"
    ) as client:
        response = await client.get("/")
    assert response.headers["strict-transport-security"].startswith("max-age=31536000")
