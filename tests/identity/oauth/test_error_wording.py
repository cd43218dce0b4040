"""OAuth error descriptions in plain words at every OAuth endpoint (token, authorize,
introspection, revocation; TINpass has no PAR endpoint), and invalid_scope for a
client_credentials request none of whose scopes the client may have."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import httpx
from authlib.oauth2.rfc6749 import InvalidClientError, UnsupportedGrantTypeError

from identity import admin_ops
from identity.oauth.wording import in_plain_words, plain_list
from tests.identity.harness import IdentityHarness

REPR = re.compile(r"\[|\]|'\w+'|=\w")  # a list repr, a quoted identifier, key=value
CLI_REDIRECT = "http://127.0.0.1:8765/callback"


def assert_plain(description: str) -> None:
    assert description and description[0].isupper() and description.endswith("."), description
    assert not REPR.search(description), description


async def _code_only_client(identity: IdentityHarness) -> str:
    async with identity.session() as session:
        _, secret = await admin_ops.create_client(
            session,
            identity.settings,
            "code-only",
            "Signs people in only",
            kind="confidential",
            grant_types=["authorization_code"],
            scope="openid claims:read",
            auth_method="client_secret_basic",
            redirect_uris=["https://app.example/callback"],
        )
        await session.commit()
    assert secret is not None
    return secret


async def test_client_authentication_failures_read_plainly_at_every_client_endpoint(
    identity: IdentityHarness,
) -> None:
    async with identity.client() as client:
        answers = [
            await client.post(path, data=data, auth=("acme-curl", "wrong"))
            for path, data in (
                ("/token", {"grant_type": "client_credentials"}),
                ("/introspect", {"token": "x"}),
                ("/revoke", {"token": "x"}),
            )
        ]
    for answer in answers:
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"] == "invalid_client"
        assert_plain(answer.json()["error_description"])
        assert "client_secret_basic" in answer.json()["error_description"]


async def test_grant_errors_read_plainly(identity: IdentityHarness) -> None:
    secret = await _code_only_client(identity)
    async with identity.client() as client:
        unsupported = await client.post(
            "/token", data={"grant_type": "password"}, auth=("code-only", secret)
        )
        unauthorized = await client.post(
            "/token", data={"grant_type": "client_credentials"}, auth=("code-only", secret)
        )
    assert unsupported.json()["error"] == "unsupported_grant_type"
    assert_plain(unsupported.json()["error_description"])
    assert "client_credentials" in unsupported.json()["error_description"]
    assert unauthorized.json()["error"] == "unauthorized_client"
    assert unauthorized.json()["error_description"] == (
        "This client is not registered for the client credentials grant."
    )


async def test_authorization_errors_read_plainly(identity: IdentityHarness) -> None:
    async with identity.client() as client:
        redirected = await client.get(
            "/authorize",
            params={
                "client_id": "tinpass-cli",
                "redirect_uri": CLI_REDIRECT,
                "response_type": "token",
                "state": "s1",
            },
        )
        page = await client.get(
            "/authorize",
            params={
                "client_id": "tinpass-cli",
                "redirect_uri": "https://evil.example/",
                "response_type": "code",
            },
        )
    assert redirected.status_code == 302
    back = parse_qs(urlsplit(redirected.headers["location"]).query)
    assert back["error"] == ["unsupported_response_type"]
    assert back["error_description"] == ["The response type token is not supported: use code."]
    assert page.status_code == 400
    assert "This redirect URI is not registered for the client." in page.text


async def test_scopes_none_of_which_the_client_may_have_are_invalid_scope(
    identity: IdentityHarness,
) -> None:
    async with identity.session() as session:
        _, secret = await admin_ops.create_client(
            session,
            identity.settings,
            "claims-reader",
            "Reads claims",
            kind="confidential",
            grant_types=["client_credentials"],
            scope="claims:read",
            auth_method="client_secret_basic",
        )
        await session.commit()
    assert secret is not None
    async with identity.client() as client:

        async def ask(scope: str) -> httpx.Response:
            data = {"grant_type": "client_credentials", "scope": scope}
            return await client.post("/token", data=data, auth=("claims-reader", secret))

        none_allowed = await ask("eligibility:read claims:write")
        some_allowed = await ask("claims:read eligibility:read")
        unknown = await ask("everything")
    assert none_allowed.status_code == 400
    assert none_allowed.json()["error"] == "invalid_scope"
    assert none_allowed.json()["error_description"] == (
        "This client may not have eligibility:read or claims:write: "
        "it is registered for claims:read."
    )
    assert "access_token" not in none_allowed.json()
    # Some allowed: the narrower scope is issued and the answer says which (RFC 6749 §3.3).
    assert some_allowed.status_code == 200, some_allowed.text
    assert some_allowed.json()["scope"] == "claims:read"
    assert unknown.json()["error"] == "invalid_scope"


def test_any_list_repr_left_becomes_words() -> None:
    error = InvalidClientError(
        description="The client cannot authenticate with methods: ['a_b', 'c_d', 'e_f']"
    )
    assert in_plain_words(error).description == (
        "The client could not be authenticated: check its client id and credentials, "
        "sent the way it is registered to authenticate (a_b, c_d or e_f)."
    )
    other = InvalidClientError(description="Not one of ['x', 'y'].")
    assert in_plain_words(other).description == "Not one of x or y."
    grant = in_plain_words(UnsupportedGrantTypeError("password"))
    assert grant.description == (
        "The grant type password is not supported: use authorization_code, refresh_token "
        "or client_credentials."
    )
    assert plain_list(["a"]) == "a" and plain_list(["a", "b"], "and") == "a and b"
