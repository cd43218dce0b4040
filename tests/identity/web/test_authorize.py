"""The authorization endpoint and the login form: CSRF, SSO, errors, prompts."""

from __future__ import annotations

import re

from tests.identity.flows import portal_code
from tests.identity.harness import (
    CLI,
    CLI_REDIRECT,
    PASSWORD,
    PORTAL,
    PORTAL_REDIRECT,
    IdentityHarness,
)
from tests.support.oidc import Pkce, authorize_url, form_fields, query_of, sign_in, submit_login


def error_text(html: str) -> str:
    found = re.search(r'<p class="error"[^>]*>(.*?)</p>', html, re.S)
    assert found, "the page shows an error"
    return found.group(1)


async def test_login_form_has_named_inputs_and_a_csrf_token(identity: IdentityHarness) -> None:
    async with identity.client() as browser:
        page = await browser.get(authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new()))
    assert page.status_code == 200
    fields = form_fields(page.text)
    assert {"username", "password", "csrf_token", "authorization_request"} <= fields.keys()
    assert len(fields["csrf_token"]) >= 32
    assert "tinpass_csrf" in page.cookies
    cookie_header = page.headers["set-cookie"].lower()
    assert "httponly" in cookie_header and "samesite=lax" in cookie_header


async def test_wrong_password_and_unknown_user_get_the_same_message(
    identity: IdentityHarness,
) -> None:
    url = authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new())
    async with identity.client() as browser:
        wrong = await sign_in(browser, url, "sam.biller", "not-the-password")
        unknown = await sign_in(browser, url, "nobody.here", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    assert "The username or password is incorrect" in wrong.text
    assert error_text(wrong.text) == error_text(unknown.text)


async def test_login_without_csrf_token_is_refused(identity: IdentityHarness) -> None:
    async with identity.client() as browser:
        page = await browser.get(authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new()))
        fields = form_fields(page.text)
        fields.pop("__action__")
        fields.update(username="sam.biller", password=PASSWORD, csrf_token="forged")
        response = await browser.post("/login", data=fields)
    assert response.status_code == 400
    assert "tinpass_sso" not in response.cookies
    assert "form expired" in response.text


async def test_unregistered_redirect_uri_gets_an_error_page_not_a_redirect(
    identity: IdentityHarness,
) -> None:
    url = authorize_url(PORTAL, "https://attacker.example/callback", Pkce.new())
    async with identity.client() as browser:
        response = await browser.get(url)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "This redirect URI is not registered for the client." in response.text


async def test_unknown_client_gets_an_error_page(identity: IdentityHarness) -> None:
    async with identity.client() as browser:
        response = await browser.get(authorize_url("no-such-client", PORTAL_REDIRECT, Pkce.new()))
    assert response.status_code == 400
    assert "location" not in response.headers


async def test_public_client_without_pkce_gets_an_error_redirect(identity: IdentityHarness) -> None:
    async with identity.client() as browser:
        response = await browser.get(authorize_url(CLI, CLI_REDIRECT, None))
    assert response.status_code == 302
    assert query_of(response.headers["location"])["error"] == "invalid_request"


async def test_state_is_returned(identity: IdentityHarness) -> None:
    async with identity.client() as browser:
        url = authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new(), state="s-123")
        response = await sign_in(browser, url, "sam.biller", PASSWORD)
    assert query_of(response.headers["location"])["state"] == "s-123"


async def test_second_client_passes_by_sso_without_a_login(identity: IdentityHarness) -> None:
    async with identity.client() as browser:
        await portal_code(identity, browser, "sam.biller")
        second = await browser.get(authorize_url(CLI, CLI_REDIRECT, Pkce.new()))
    assert second.status_code == 302, "SSO session should skip the login form"
    assert "code" in query_of(second.headers["location"])


async def test_prompt_login_and_max_age_zero_force_a_new_login(identity: IdentityHarness) -> None:
    async with identity.client() as browser:
        await portal_code(identity, browser, "sam.biller")
        forced = await browser.get(
            authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new(), prompt="login")
        )
        aged = await browser.get(authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new(), max_age="0"))
        relogin = await submit_login(browser, forced, "sam.biller", PASSWORD)
    assert forced.status_code == 200 and 'name="password"' in forced.text
    assert aged.status_code == 200 and 'name="password"' in aged.text
    assert relogin.status_code == 302 and "code" in query_of(relogin.headers["location"])


async def test_prompt_none_without_session_is_login_required(identity: IdentityHarness) -> None:
    async with identity.client() as browser:
        response = await browser.get(
            authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new(), prompt="none")
        )
    assert response.status_code == 302
    assert query_of(response.headers["location"])["error"] == "login_required"


async def test_sso_cookie_attributes(identity: IdentityHarness) -> None:
    async with identity.client() as browser:
        response = await sign_in(
            browser, authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new()), "sam.biller", PASSWORD
        )
    sso = [h for h in response.headers.get_list("set-cookie") if h.startswith("tinpass_sso=")]
    assert sso, "login sets the SSO cookie"
    lowered = sso[0].lower()
    assert "httponly" in lowered and "samesite=lax" in lowered and "secure" not in lowered
