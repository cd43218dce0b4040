"""The client endpoints' lean route (/token, /introspect, /revoke): plain Starlette
endpoints reading a urlencoded body with `urllib.parse` (`bridge.read_form`). What a
client sees is what the FastAPI routes and Starlette's form parser gave it."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from identity.models import AuditEvent
from identity.oauth.bridge import MAX_FIELDS, read_form
from identity.settings import CASCADE_RESOURCE, SUMMIT_RESOURCE
from identity.web.headers import SecurityHeaders
from tests.identity.harness import IdentityHarness
from tests.support.oidc import jwt_claims

CURL = "acme-curl"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def auth(identity: IdentityHarness) -> tuple[str, str]:
    return (CURL, identity.credentials.curl_secret)


async def test_a_token_answer_keeps_its_headers_and_body(identity: IdentityHarness) -> None:
    request_id = uuid.uuid4().hex
    async with identity.client() as client:
        response = await client.post(
            "/token",
            content=urlencode({"grant_type": "client_credentials", "resource": SUMMIT_RESOURCE}),
            headers={**FORM, "X-Request-ID": request_id},
            auth=auth(identity),
        )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-request-id"] == request_id
    assert response.headers["x-frame-options"] == "DENY"
    assert "content-security-policy" in response.headers
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    assert jwt_claims(body["access_token"])["aud"] == SUMMIT_RESOURCE
    async with identity.session() as session:
        event = await session.scalar(
            select(AuditEvent.event).where(AuditEvent.request_id == request_id)
        )
    assert event == "token.issued"


async def test_plus_and_percent_encoding_are_decoded(identity: IdentityHarness) -> None:
    body = (
        "grant_type=client_credentials&scope=eligibility%3Aread+claims%3Aread"
        f"&resource={CASCADE_RESOURCE.replace(':', '%3A').replace('/', '%2F')}"
    )
    async with identity.client() as client:
        response = await client.post("/token", content=body, headers=FORM, auth=auth(identity))
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "eligibility:read claims:read"
    assert jwt_claims(response.json()["access_token"])["aud"] == CASCADE_RESOURCE


async def test_a_multipart_body_is_still_read(identity: IdentityHarness) -> None:
    """Not what RFC 6749 asks for, but Starlette's parser read it before: it still does
    (a file part is ignored)."""
    async with identity.client() as client:
        response = await client.post(
            "/token",
            data={"grant_type": "client_credentials"},
            files={"ignored": ("a.txt", b"x")},
            auth=auth(identity),
        )
    assert response.status_code == 200, response.text
    assert response.json()["access_token"]


async def test_every_value_of_a_repeated_parameter_is_seen(identity: IdentityHarness) -> None:
    """Two resources for one access token are refused (RFC 8707 reads every value)."""
    body = urlencode(
        [
            ("grant_type", "client_credentials"),
            ("resource", CASCADE_RESOURCE),
            ("resource", SUMMIT_RESOURCE),
        ]
    )
    async with identity.client() as client:
        response = await client.post("/token", content=body, headers=FORM, auth=auth(identity))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_target"
    assert response.headers["cache-control"] == "no-store"


async def test_a_control_character_is_refused_before_authlib(identity: IdentityHarness) -> None:
    body = "grant_type=client_credentials&scope=eligibility%00read"
    async with identity.client() as client:
        response = await client.post("/token", content=body, headers=FORM, auth=auth(identity))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert "scope" in response.json()["error_description"]


async def test_the_field_limit_is_starlettes(identity: IdentityHarness) -> None:
    fields = [("grant_type", "client_credentials")]
    fields += [(f"x{i}", "") for i in range(MAX_FIELDS - 1)]
    async with identity.client() as client:
        at_limit = await client.post(
            "/token", content=urlencode(fields), headers=FORM, auth=auth(identity)
        )
        beyond = await client.post(
            "/token", content=urlencode([*fields, ("y", "")]), headers=FORM, auth=auth(identity)
        )
    assert at_limit.status_code == 200, at_limit.text
    assert beyond.status_code == 400
    assert "Too many fields" in beyond.text


@pytest.mark.parametrize("path", ["/token", "/introspect", "/revoke"])
async def test_only_post_is_allowed(identity: IdentityHarness, path: str) -> None:
    async with identity.client() as client:
        response = await client.get(path)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


async def test_introspection_and_revocation_answer_through_the_lean_route(
    identity: IdentityHarness,
) -> None:
    async with identity.client() as client:
        issued = await client.post(
            "/token", data={"grant_type": "client_credentials"}, auth=auth(identity)
        )
        token = issued.json()["access_token"]
        active = await client.post("/introspect", data={"token": token}, auth=auth(identity))
        revoked = await client.post("/revoke", data={"token": token}, auth=auth(identity))
        after = await client.post("/introspect", data={"token": token}, auth=auth(identity))
    assert active.json()["active"] is True
    assert active.headers["cache-control"] == "no-store"
    assert revoked.status_code == 200
    assert after.json() == {"active": False}


BODIES = [
    b"a",
    b"a=",
    b"=b",
    b"a=1&&b=2",
    b"a=1;b=2",
    b"a=%zz",
    b"a=%C3%A9",
    b"a+b=c+d",
    "a=\u00e9".encode(),
    b"&a=1&",
    b"a=1=2",
    b"a=%00",
    b"",
    b"a=1&a=2",
    b"%3D=%26",
]


@pytest.mark.parametrize("body", BODIES)
async def test_read_form_reads_what_starlettes_parser_reads(body: bytes) -> None:
    async def both(request: Request) -> JSONResponse:
        ours = await read_form(request)
        starlettes = [(k, v) for k, v in (await request.form()).multi_items()]
        return JSONResponse({"ours": ours, "starlettes": starlettes})

    app = Starlette(routes=[Route("/", both, methods=["POST"])])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answer = (await client.post("/", content=body, headers=FORM)).json()
    assert answer["ours"] == answer["starlettes"]


async def test_security_headers_replace_the_responses_own_except_its_policy() -> None:
    async def page(request: Request) -> PlainTextResponse:
        return PlainTextResponse(
            "ok",
            headers={"X-Frame-Options": "SAMEORIGIN", "Content-Security-Policy": "default-src x"},
        )

    app = Starlette(routes=[Route("/", page)])
    app.add_middleware(SecurityHeaders, secure=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/")
    assert response.headers.get_list("x-frame-options") == ["DENY"]
    assert response.headers.get_list("content-security-policy") == ["default-src x"]
    assert response.headers["cross-origin-opener-policy"] == "same-origin"
    assert "strict-transport-security" not in response.headers
