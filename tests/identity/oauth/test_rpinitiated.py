"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0)."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx

from tests.identity.flows import exchange_portal_code, portal_code, portal_tokens
from tests.identity.harness import PORTAL, PORTAL_REDIRECT, IdentityHarness
from tests.support.oidc import Pkce, authorize_url, form_fields


async def test_logout_with_id_token_hint_ends_sso_and_redirects_to_registered_uri(
    identity: IdentityHarness,
) -> None:
    async with identity.client() as browser:
        code, pkce = await portal_code(identity, browser, "sam.biller")
        assert pkce is not None
        tokens = (await exchange_portal_code(identity, browser, code, pkce.verifier)).json()
        logout = await browser.get(
            "/logout",
            params={
                "id_token_hint": tokens["id_token"],
                "post_logout_redirect_uri": "http://127.0.0.1:8080/",
                "state": "bye",
            },
        )
        again = await browser.get(authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new()))
        refresh = await browser.post(
            "/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            auth=(PORTAL, identity.credentials.portal_secret),
        )
    assert logout.status_code == 302
    assert logout.headers["location"] == "http://127.0.0.1:8080/?state=bye"
    assert again.status_code == 200 and 'name="password"' in again.text, "SSO session is over"
    assert refresh.json()["error"] == "invalid_grant", "the session's refresh tokens are revoked"


async def test_unregistered_post_logout_redirect_is_not_followed(identity: IdentityHarness) -> None:
    async with identity.client() as browser:
        code, pkce = await portal_code(identity, browser, "sam.biller")
        assert pkce is not None
        tokens = (await exchange_portal_code(identity, browser, code, pkce.verifier)).json()
        logout = await browser.get(
            "/logout",
            params={
                "id_token_hint": tokens["id_token"],
                "post_logout_redirect_uri": "https://evil.example/",
            },
        )
    assert logout.status_code == 200
    assert "signed out" in logout.text


async def test_logout_without_hint_asks_for_confirmation_with_csrf(
    identity: IdentityHarness,
) -> None:
    async with identity.client() as browser:
        await portal_code(identity, browser, "sam.biller")
        confirm = await browser.get("/logout")
        forged = await browser.post("/logout", data={"confirm": "yes", "csrf_token": "forged"})
        still_in = await browser.get(authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new()))
        fields = form_fields(confirm.text)
        fields.pop("__action__")
        done = await browser.post("/logout", data=fields)
        out = await browser.get(authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new()))
    assert confirm.status_code == 200 and "Sign out" in confirm.text
    assert forged.status_code == 200 and "Sign out of TINpass?" in forged.text
    assert still_in.status_code == 302, "a forged form does not end the session"
    assert done.status_code == 200 and "signed out" in done.text
    assert out.status_code == 200 and 'name="password"' in out.text


async def _confirm_then_sign_out(
    browser: httpx.AsyncClient, hint: str
) -> tuple[httpx.Response, httpx.Response, httpx.Response, httpx.Response]:
    """A logout GET with `hint`, the session check after it, the confirmation POST and after."""
    params = {"id_token_hint": hint, "post_logout_redirect_uri": "http://127.0.0.1:8080/"}
    confirm = await browser.get("/logout", params=params)
    still_in = await browser.get(authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new()))
    fields = form_fields(confirm.text)
    fields.pop("__action__")
    done = await browser.post("/logout", data=fields)
    out = await browser.get(authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new()))
    return confirm, still_in, done, out


async def test_logout_with_another_accounts_id_token_asks_first(
    identity: IdentityHarness,
) -> None:
    others = await portal_tokens(identity, "hana.harb")
    async with identity.client() as browser:
        await portal_code(identity, browser, "sam.biller")
        confirm, still_in, done, out = await _confirm_then_sign_out(browser, others["id_token"])
    assert confirm.status_code == 200 and "Sign out of TINpass?" in confirm.text
    assert still_in.status_code == 302, "a GET with a foreign hint does not end the session"
    assert done.status_code == 302 and done.headers["location"] == "http://127.0.0.1:8080/"
    assert out.status_code == 200 and 'name="password"' in out.text


async def test_logout_with_the_same_accounts_token_from_another_session_asks_first(
    identity: IdentityHarness,
) -> None:
    elsewhere = await portal_tokens(identity, "sam.biller")
    async with identity.client() as browser:
        await portal_code(identity, browser, "sam.biller")
        confirm, still_in, done, out = await _confirm_then_sign_out(browser, elsewhere["id_token"])
    assert "sid" in _claims(elsewhere["id_token"])
    assert confirm.status_code == 200 and "Sign out of TINpass?" in confirm.text
    assert still_in.status_code == 302, "another session's hint does not end this session"
    assert done.status_code == 302
    assert out.status_code == 200 and 'name="password"' in out.text


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims
