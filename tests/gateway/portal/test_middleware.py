"""The portal's session cookie, security headers and CSRF checks, over ASGI."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from gateway.portal.sessions import digest
from tests.gateway.portal.conftest import Portal
from tests.support.tokens import ISSUER

METADATA = {
    "issuer": ISSUER,
    "authorization_endpoint": ISSUER + "/authorize",
    "token_endpoint": ISSUER + "/token",
    "end_session_endpoint": ISSUER + "/logout",
    "jwks_uri": ISSUER + "/.well-known/jwks.json",
}
USER = {"username": "sam.biller", "name": "Sam Biller", "tax_ids": ["123456789"], "roles": []}


@pytest.fixture(autouse=True)
def published_metadata(portal: Portal) -> None:
    """What identity's discovery document says, as Authlib would have loaded it just now
    (the portal forgets it after GATEWAY_JWKS_REFRESH_INTERVAL: gateway.portal.oidc)."""
    metadata = {**METADATA, "_loaded_at": time.time()}
    portal.app.state.portal_oauth.tinpass.server_metadata.update(metadata)


async def signed_in(portal: Portal, **extra: Any) -> str:
    tokens = {"access_token": "a", "id_token": "id-token-1", "expires_at": time.time() + 300}
    data = {"sid": "sso-a", "sub": "u-1", "user": USER, "tokens": tokens, "csrf": "known-csrf"}
    await portal.sessions.save("sess-1", {**data, **extra})
    portal.client.cookies.set(portal.cookie, "sess-1", domain="portal.test", path="/portal")
    return "sess-1"


async def test_every_portal_page_has_the_security_headers_and_no_anonymous_cookie(
    portal: Portal,
) -> None:
    response = await portal.client.get("/portal/")
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert f"script-src {ISSUER}/static/time.js;" in csp and "frame-ancestors 'none'" in csp
    assert f"form-action 'self' {ISSUER}" in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    assert "set-cookie" not in response.headers
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", response.text, re.DOTALL)
    assert scripts == [""], "no inline script"
    assert f'<script src="{ISSUER}/static/time.js" defer>' in response.text
    assert 'href="/portal/login"' in response.text


async def test_sign_in_starts_the_code_flow_with_pkce_and_keeps_its_state_server_side(
    portal: Portal,
) -> None:
    response = await portal.client.get("/portal/login")
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["response_type"] == ["code"] and query["client_id"] == ["cascade-portal"]
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"]
    assert query["state"] and query["nonce"]
    assert query["redirect_uri"] == ["http://portal.test/portal/callback"]
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/portal" in cookie
    value = cookie.split(";")[0].split("=", 1)[1]
    stored = await portal.sessions.load(value)
    assert stored is not None
    state_data = next(v["data"] for k, v in stored.items() if k.startswith("_state_"))
    assert state_data["code_verifier"] not in cookie
    assert digest(value) in portal.sessions._records and value not in portal.sessions._records


async def test_a_callback_with_a_foreign_state_signs_nobody_in(portal: Portal) -> None:
    await portal.client.get("/portal/login")
    response = await portal.client.get("/portal/callback?code=c-1&state=not-ours")
    assert response.status_code == 400
    assert "did not complete" in response.text


async def test_pages_need_a_signed_in_session(portal: Portal) -> None:
    for path in ("/portal/eligibility", "/portal/claims", "/portal/claims/C-1", "/portal/denied"):
        response = await portal.client.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/portal/"


async def test_forms_without_the_sessions_csrf_token_are_refused(portal: Portal) -> None:
    await signed_in(portal)
    form = await portal.client.get("/portal/eligibility")
    assert 'name="csrf_token" value="known-csrf"' in form.text
    for path in ("/portal/eligibility", "/portal/claims", "/portal/logout"):
        refused = await portal.client.post(path, data={"member_id": "M1", "csrf_token": "forged"})
        assert refused.status_code == 403, path
        missing = await portal.client.post(path, data={"member_id": "M1"})
        assert missing.status_code == 403, path
    assert await portal.sessions.load("sess-1") is not None


async def test_logout_ends_the_session_and_goes_to_identity_with_the_id_token(
    portal: Portal,
) -> None:
    await signed_in(portal)
    response = await portal.client.post("/portal/logout", data={"csrf_token": "known-csrf"})
    assert response.status_code == 303
    target = urlsplit(response.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == ISSUER + "/logout"
    query = parse_qs(target.query)
    assert query["id_token_hint"] == ["id-token-1"]
    assert query["post_logout_redirect_uri"] == ["http://portal.test/portal/signed-out"]
    assert "Max-Age=0" in response.headers["set-cookie"]
    assert await portal.sessions.load("sess-1") is None


async def test_an_expired_token_without_refresh_signs_the_person_out(portal: Portal) -> None:
    await signed_in(portal, tokens={"access_token": "a", "expires_at": time.time() - 5})
    response = await portal.client.get("/portal/claims")
    assert response.status_code == 401
    assert "session has ended" in response.text
    assert await portal.sessions.load("sess-1") is None


async def test_an_unknown_session_cookie_is_not_adopted(portal: Portal) -> None:
    portal.client.cookies.set(portal.cookie, "chosen-by-attacker", domain="portal.test")
    response = await portal.client.get("/portal/login")
    new_value = response.headers["set-cookie"].split(";")[0].split("=", 1)[1]
    assert new_value != "chosen-by-attacker"
    assert await portal.sessions.load("chosen-by-attacker") is None
