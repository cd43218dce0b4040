"""A parameter sent more than once is refused (RFC 6749 §3.1, §3.2): `invalid_request`
naming it at /token, /introspect and /revoke, and at /authorize an error redirected
to a valid client (or a page when the client or redirect URI is the repeated one).
Only RFC 8707's `resource` may repeat."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from identity.models import AuditEvent
from identity.settings import CASCADE_RESOURCE, SUMMIT_RESOURCE
from tests.identity.harness import (
    CLI,
    CLI_REDIRECT,
    PORTAL,
    PORTAL_REDIRECT,
    IdentityHarness,
)
from tests.support.oidc import Pkce, query_of

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
CC = [("grant_type", "client_credentials")]


def auth(identity: IdentityHarness) -> tuple[str, str]:
    return ("acme-curl", identity.credentials.curl_secret)


def refused_for(answer_json: dict[str, str], name: str) -> bool:
    return answer_json == {
        "error": "invalid_request",
        "error_description": f"The {name} parameter was sent more than once; send it once.",
    }


@pytest.mark.parametrize(
    ("pairs", "name"),
    [
        (CC * 2, "grant_type"),
        ([("grant_type", "client_credentials"), ("grant_type", "password")], "grant_type"),
        ([*CC, ("scope", "claims:read"), ("scope", "eligibility:read")], "scope"),
        ([*CC, ("client_id", "acme-curl"), ("client_id", "acme-curl")], "client_id"),
    ],
)
async def test_token_refuses_a_repeated_parameter(
    identity: IdentityHarness, pairs: list[tuple[str, str]], name: str
) -> None:
    async with identity.session() as session:
        events = await session.scalar(select(func.count()).select_from(AuditEvent))
    async with identity.client() as client:
        answer = await client.post(
            "/token", content=urlencode(pairs), headers=FORM, auth=auth(identity)
        )
    assert answer.status_code == 400, answer.text
    assert refused_for(answer.json(), name), answer.json()
    assert answer.headers["cache-control"] == "no-store"
    async with identity.session() as session:  # nothing issued, nothing written
        assert await session.scalar(select(func.count()).select_from(AuditEvent)) == events


async def test_a_parameter_in_both_query_and_body_is_repeated(identity: IdentityHarness) -> None:
    async with identity.client() as client:
        answer = await client.post(
            "/token?grant_type=client_credentials",
            content=urlencode(CC),
            headers=FORM,
            auth=auth(identity),
        )
    assert answer.status_code == 400 and refused_for(answer.json(), "grant_type")


async def test_repeated_resources_are_not_a_repeated_parameter(identity: IdentityHarness) -> None:
    """Several `resource`s are RFC 8707's to judge (one per access token), not §3.2's."""
    pairs = [*CC, ("resource", CASCADE_RESOURCE), ("resource", SUMMIT_RESOURCE)]
    async with identity.client() as client:
        answer = await client.post(
            "/token", content=urlencode(pairs), headers=FORM, auth=auth(identity)
        )
        single = await client.post(
            "/token",
            content=urlencode([*CC, ("resource", SUMMIT_RESOURCE)]),
            headers=FORM,
            auth=auth(identity),
        )
    assert answer.json()["error"] == "invalid_target", answer.text
    assert single.status_code == 200, single.text


@pytest.mark.parametrize("endpoint", ["/introspect", "/revoke"])
async def test_introspect_and_revoke_refuse_a_repeated_token(
    identity: IdentityHarness, endpoint: str
) -> None:
    async with identity.client() as client:
        issued = await client.post("/token", data=dict(CC), auth=auth(identity))
        token = issued.json()["access_token"]
        answer = await client.post(
            endpoint,
            content=urlencode([("token", token), ("token", "another")]),
            headers=FORM,
            auth=auth(identity),
        )
        hint = await client.post(
            endpoint,
            content=urlencode(
                [
                    ("token", token),
                    ("token_type_hint", "access_token"),
                    ("token_type_hint", "refresh_token"),
                ]
            ),
            headers=FORM,
            auth=auth(identity),
        )
        still = await client.post("/introspect", data={"token": token}, auth=auth(identity))
    assert answer.status_code == 400 and refused_for(answer.json(), "token"), answer.text
    assert hint.status_code == 400 and refused_for(hint.json(), "token_type_hint"), hint.text
    assert still.json()["active"] is True  # the refused revocation revoked nothing


def authorize(*repeated: tuple[str, str], client: str = PORTAL, to: str = PORTAL_REDIRECT) -> str:
    pkce = Pkce.new()
    params = [
        ("response_type", "code"),
        ("client_id", client),
        ("redirect_uri", to),
        ("scope", "openid"),
        ("state", "s-1"),
        ("nonce", "n-1"),
        ("code_challenge", pkce.challenge),
        ("code_challenge_method", "S256"),
        *repeated,
    ]
    return "/authorize?" + urlencode(params)


@pytest.mark.parametrize("name", ["scope", "response_type", "nonce", "code_challenge"])
async def test_authorize_redirects_a_repeated_parameter_as_invalid_request(
    identity: IdentityHarness, name: str
) -> None:
    async with identity.client() as browser:
        answer = await browser.get(authorize((name, "other")))
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(PORTAL_REDIRECT + "?")
    query = query_of(location)
    assert query["error"] == "invalid_request" and query["state"] == "s-1"
    assert query["error_description"] == (
        f"The {name} parameter was sent more than once; send it once."
    )


@pytest.mark.parametrize(
    "repeated",
    [
        ("client_id", "acme-curl"),
        ("redirect_uri", "https://evil.example/cb"),
        ("state", "s-2"),
    ],
)
async def test_authorize_shows_a_page_or_keeps_state_out_when_it_is_the_repeated_one(
    identity: IdentityHarness, repeated: tuple[str, str]
) -> None:
    async with identity.client() as browser:
        answer = await browser.get(authorize(repeated))
    name = repeated[0]
    if name == "state":  # which of the two would be echoed? neither
        query = query_of(answer.headers["location"])
        assert query["error"] == "invalid_request" and "state" not in query
        return
    assert answer.status_code == 400 and "location" not in answer.headers
    assert f"The {name} parameter was sent more than once" in answer.text


async def test_authorize_accepts_several_resources(identity: IdentityHarness) -> None:
    async with identity.client() as browser:
        answer = await browser.get(
            authorize(
                ("resource", CASCADE_RESOURCE),
                ("resource", SUMMIT_RESOURCE),
                client=CLI,
                to=CLI_REDIRECT,
            )
        )
    assert answer.status_code == 200 and 'name="password"' in answer.text
