"""Loopback redirect URIs of native apps take any port (RFC 8252 §7.3): for a public
client, a registered `http://127.0.0.1/...` or `http://[::1]/...` URI matches on any
port, and nothing else about it may differ. `localhost` URIs and confidential
clients' URIs stay an exact match. The token request repeats the very URI used at
/authorize (RFC 6749 §4.1.3), port included."""

from __future__ import annotations

import httpx
import pytest

from identity import admin_ops
from identity.store.loopback import matches_any_port
from tests.identity.harness import (
    CLI,
    CLI_REDIRECT,
    PASSWORD,
    PORTAL,
    PORTAL_REDIRECT,
    IdentityHarness,
)
from tests.support.oidc import Pkce, authorize_url, query_of, sign_in

REGISTERED = "http://127.0.0.1:8765/callback"  # tinpass-cli's, as seeded
ANY_PORT = "http://127.0.0.1:54321/callback"


async def cli_sign_in(
    browser: httpx.AsyncClient, redirect_uri: str, pkce: Pkce, client: str = CLI
) -> httpx.Response:
    return await sign_in(browser, authorize_url(client, redirect_uri, pkce), "sam.biller", PASSWORD)


async def exchange(
    client: httpx.AsyncClient, code: str, redirect_uri: str, pkce: Pkce, client_id: str = CLI
) -> httpx.Response:
    data = {
        "grant_type": "authorization_code",
        "client_id": client_id,
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": pkce.verifier,
    }
    return await client.post("/token", data=data)


@pytest.mark.parametrize("port", ["54321", "1", "65535"])
async def test_the_cli_signs_in_on_any_loopback_port(identity: IdentityHarness, port: str) -> None:
    assert CLI_REDIRECT == REGISTERED
    redirect_uri = f"http://127.0.0.1:{port}/callback"
    pkce = Pkce.new()
    async with identity.client() as browser:
        answer = await cli_sign_in(browser, redirect_uri, pkce)
        assert answer.status_code == 302, answer.text
        location = answer.headers["location"]
        assert location.startswith(redirect_uri + "?")
        tokens = await exchange(browser, query_of(location)["code"], redirect_uri, pkce)
    assert tokens.status_code == 200, tokens.text
    assert tokens.json()["access_token"]


async def test_the_code_is_redeemed_with_the_port_it_was_issued_for(
    identity: IdentityHarness,
) -> None:
    pkce = Pkce.new()
    async with identity.client() as browser:
        answer = await cli_sign_in(browser, ANY_PORT, pkce)
        code = query_of(answer.headers["location"])["code"]
        other_port = await exchange(browser, code, "http://127.0.0.1:54322/callback", pkce)
    assert other_port.status_code == 400
    assert other_port.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://127.0.0.1:54321/other",  # path
        "http://127.0.0.1:54321/callback/",
        "http://127.0.0.1:54321/callback?x=1",  # query
        "https://127.0.0.1:54321/callback",  # scheme
        "http://localhost:54321/callback",  # a name, not an IP literal (§8.3)
        "http://127.0.0.2:54321/callback",
        "http://[::1]:54321/callback",  # the other loopback literal is not registered
        "http://127.0.0.1:54321/callback#frag",
        "http://user@127.0.0.1:54321/callback",
        "http://127.0.0.1:54321@evil.example/callback",
        "http://127.0.0.1:65536/callback",
        "http://127.0.0.1:054321/callback",
        "http://127.0.0.1.evil.example:54321/callback",
    ],
)
async def test_anything_but_the_port_must_match(
    identity: IdentityHarness, redirect_uri: str
) -> None:
    async with identity.client() as browser:
        answer = await browser.get(authorize_url(CLI, redirect_uri, Pkce.new()))
    assert answer.status_code == 400, answer.text
    assert "location" not in answer.headers


async def test_a_confidential_clients_loopback_uri_stays_exact(
    identity: IdentityHarness,
) -> None:
    assert PORTAL_REDIRECT.startswith("http://127.0.0.1:8080/")
    other = PORTAL_REDIRECT.replace(":8080/", ":8090/")
    async with identity.client() as browser:
        answer = await browser.get(authorize_url(PORTAL, other, Pkce.new()))
        exact = await browser.get(authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new()))
    assert answer.status_code == 400 and "location" not in answer.headers
    assert exact.status_code == 200 and 'name="password"' in exact.text


async def test_ipv6_loopback_any_port_and_localhost_exact(identity: IdentityHarness) -> None:
    async with identity.session() as session:
        await admin_ops.create_client(
            session,
            identity.settings,
            "native-v6",
            "A native app",
            kind="public",
            grant_types=["authorization_code"],
            scope="openid profile email offline_access eligibility:read claims:read",
            auth_method="none",
            redirect_uris=["http://[::1]/cb", "http://localhost:7000/cb"],
        )
        await session.commit()
    pkce = Pkce.new()
    async with identity.client() as browser:
        v6 = await cli_sign_in(browser, "http://[::1]:61000/cb", pkce, client="native-v6")
        named = await browser.get(authorize_url("native-v6", "http://localhost:7001/cb", pkce))
        named_exact = await browser.get(
            authorize_url("native-v6", "http://localhost:7000/cb", pkce)
        )
    assert v6.status_code == 302 and v6.headers["location"].startswith("http://[::1]:61000/cb?")
    assert named.status_code == 400 and "location" not in named.headers
    assert named_exact.status_code == 302  # signed in above: the code comes at once


@pytest.mark.parametrize(
    ("requested", "registered", "expected"),
    [
        ("http://127.0.0.1:5000/cb", "http://127.0.0.1/cb", True),
        ("http://127.0.0.1/cb", "http://127.0.0.1:5000/cb", True),
        ("http://127.0.0.1:5000", "http://127.0.0.1:8765", True),
        ("http://127.0.0.1:5000?a=b", "http://127.0.0.1?a=b", True),
        ("http://127.0.0.1:5000/cb?a=b", "http://127.0.0.1:1/cb?a=c", False),
        ("http://[::1]:5000/cb", "http://127.0.0.1:5000/cb", False),
        ("http://localhost:5000/cb", "http://localhost/cb", False),
        ("http://LOCALHOST:5000/cb", "http://127.0.0.1/cb", False),
        ("HTTP://127.0.0.1:5000/cb", "http://127.0.0.1/cb", False),
        ("http://127.0.0.1:0/cb", "http://127.0.0.1/cb", False),
    ],
)
def test_matches_any_port(requested: str, registered: str, expected: bool) -> None:
    assert matches_any_port(requested, [registered]) is expected
