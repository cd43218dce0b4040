"""The one input rule at identity's pages and OAuth endpoints: a control character
(a NUL broke PostgreSQL, a tab broke Authlib's error description) or an over-long
value gets a 4xx naming the field: an inline error on the login form, a 400 page
for other forms, RFC 6749 errors at OAuth endpoints (redirected only to a valid
client's registered redirect URI). Safe request ids are kept, others replaced."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import func, select

from identity.models import User
from tests.identity.harness import PORTAL, PORTAL_REDIRECT, IdentityHarness
from tests.support.oidc import Pkce, authorize_url, form_fields, query_of

LONG_EMAIL = "a" * 10_000 + "@example.org"


async def _post_form(browser: httpx.AsyncClient, page_url: str, **values: str) -> httpx.Response:
    page = await browser.get(page_url)
    fields = form_fields(page.text)
    action = fields.pop("__action__")
    fields.update(values)
    return await browser.post(page.url.join(action), data=fields)


@pytest.mark.parametrize("username", ["ever.admin\x00", "ever\tadmin", "x" * 10_000])
async def test_login_form_names_the_field_inline(identity: IdentityHarness, username: str) -> None:
    async with identity.client() as browser:
        answer = await _post_form(browser, "/login", username=username, password="x")
    assert answer.status_code == 400
    assert "\u201cUsername\u201d" in answer.text and 'name="password"' in answer.text


async def test_login_keeps_the_authorization_request_when_another_field_is_at_fault(
    identity: IdentityHarness,
) -> None:
    async with identity.client() as browser:
        url = authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new())
        answer = await _post_form(browser, url, username="ever.admin", password="pass\x00word")
    assert answer.status_code == 400 and "\u201cPassword\u201d" in answer.text
    assert PORTAL in form_fields(answer.text)["authorization_request"]


@pytest.mark.parametrize(
    ("page", "field", "value"),
    [
        ("/forgot-password", "login", "ever.admin\x00"),
        ("/forgot-password", "login", LONG_EMAIL),
        ("/forgot-username", "email", "ever@example.org\r\nBcc: x@example.org"),
        ("/forgot-username", "email", LONG_EMAIL),
        ("/register", "email", "new\x00@example.org"),
        ("/register", "email", LONG_EMAIL),
        ("/register", "org_name", "Clinic\r\nSubject: hello"),
    ],
)
async def test_forms_refuse_control_characters_and_overlong_values(
    identity: IdentityHarness, page: str, field: str, value: str
) -> None:
    async with identity.session() as session:
        users = await session.scalar(select(func.count()).select_from(User))
    async with identity.client() as browser:
        answer = await _post_form(browser, page, **{field: value})
    assert answer.status_code == 400, answer.text
    assert "could not be accepted" in answer.text
    assert ("control character" in answer.text) != ("characters long" in answer.text)
    async with identity.session() as session:
        assert await session.scalar(select(func.count()).select_from(User)) == users


def _authorize(**changes: str) -> str:
    params = {
        "response_type": "code",
        "client_id": PORTAL,
        "redirect_uri": PORTAL_REDIRECT,
        "scope": "openid",
        "state": "s-1",
        "nonce": "n-1",
        **changes,
    }
    return "/authorize?" + urlencode(params)


@pytest.mark.parametrize(
    "changes",
    [
        {"redirect_uri": PORTAL_REDIRECT + "\t"},
        {"client_id": PORTAL + "\t"},
        {"client_id": "cascade\x00portal"},
        {"client_id": "c" * 10_000},
        {"response_type": "code\t", "redirect_uri": "https://evil.example/cb"},
    ],
)
async def test_authorize_answers_an_error_page_when_client_or_redirect_is_at_fault(
    identity: IdentityHarness, changes: dict[str, str]
) -> None:
    async with identity.client() as browser:
        answer = await browser.get(_authorize(**changes))
    assert answer.status_code == 400, answer.text
    assert "location" not in answer.headers
    assert "invalid_request" in answer.text or "parameter" in answer.text


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"response_type": "code\t"}, "response_type"),
        ({"response_type": "code\x00"}, "response_type"),
        ({"scope": "openid\nprofile"}, "scope"),
        ({"nonce": "n" * 5000}, "nonce"),
        ({"code_challenge": "\x00" * 43, "code_challenge_method": "S256"}, "code_challenge"),
    ],
)
async def test_authorize_redirects_invalid_request_to_a_valid_client(
    identity: IdentityHarness, changes: dict[str, str], field: str
) -> None:
    async with identity.client() as browser:
        answer = await browser.get(_authorize(**changes))
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(PORTAL_REDIRECT + "?")
    query = query_of(location)
    assert query["error"] == "invalid_request" and query["state"] == "s-1"
    assert field in query["error_description"]


async def test_a_broken_state_is_not_echoed(identity: IdentityHarness) -> None:
    async with identity.client() as browser:
        answer = await browser.get(_authorize(state="s\x00"))
    query = query_of(answer.headers["location"])
    assert query["error"] == "invalid_request" and "state" not in query


@pytest.mark.parametrize(
    "data",
    [
        {"grant_type": "client_credentials", "client_id": "acme\x00curl"},
        {"grant_type": "client_credentials\t"},
        {"grant_type": "client_credentials", "client_id": "c" * 10_000},
        {"grant_type": "refresh_token", "refresh_token": "r\x00"},
    ],
)
async def test_token_endpoint_answers_invalid_request(
    identity: IdentityHarness, data: dict[str, str]
) -> None:
    async with identity.client() as client:
        answer = await client.post("/token", data=data)
        introspected = await client.post("/introspect", data={"token": "t\x00"})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_request"
    assert answer.headers["cache-control"] == "no-store"
    assert introspected.status_code == 400
    assert "token parameter" in introspected.json()["error_description"]


async def test_a_nul_in_basic_credentials_is_an_unknown_client(identity: IdentityHarness) -> None:
    async with identity.client() as client:
        answer = await client.post(
            "/token", data={"grant_type": "client_credentials"}, auth=("acme\x00curl", "x")
        )
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"


async def test_logout_with_a_broken_parameter_is_an_error_page(identity: IdentityHarness) -> None:
    async with identity.client() as browser:
        answer = await browser.get("/logout?post_logout_redirect_uri=http://x/%09")
    assert answer.status_code == 400 and "post_logout_redirect_uri" in answer.text


async def test_query_parameters_of_pages_keep_the_rule(identity: IdentityHarness) -> None:
    async with identity.client() as browser:
        answer = await browser.get("/reset-password?token=a%00b")
    assert answer.status_code == 400
    assert answer.json()["field"] == "query parameter token"


@pytest.mark.parametrize("supplied", ["<b>hi</b>", "x" * 5000, "a b", "id\u00e9"])
async def test_unsafe_request_ids_are_replaced(identity: IdentityHarness, supplied: str) -> None:
    async with identity.client() as client:
        answer = await client.get("/healthz", headers=[(b"x-request-id", supplied.encode())])
        kept = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert uuid.UUID(answer.headers["x-request-id"])
    assert kept.headers["x-request-id"] == "abc-123"
