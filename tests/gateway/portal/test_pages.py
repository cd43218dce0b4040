"""Portal pages ask the plan's services with the signed-in person's token, and say
plainly when a service does not answer."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway.portal.views import format_tin
from tests.gateway.conftest import Upstream
from tests.gateway.portal.conftest import Portal, portal_before
from tests.support.digits import arabic_indic, full_width
from tests.support.servers import serve

USER = {"username": "sam.biller", "name": "Sam Biller", "tax_ids": ["123456789"], "orgs": []}


async def signed_in(portal: Portal) -> str:
    token = portal.issuer.mint()
    tokens = {"access_token": token, "id_token": "id-1", "expires_at": time.time() + 300}
    data = {"sid": "sso-a", "sub": "u-1", "user": USER, "tokens": tokens, "csrf": "csrf-1"}
    await portal.sessions.save("sess-1", data)
    portal.client.cookies.set(portal.cookie, "sess-1", domain="portal.test", path="/portal")
    return token


async def test_claims_are_asked_with_the_persons_token(
    portal_and_upstream: tuple[Portal, Upstream],
) -> None:
    portal, upstream = portal_and_upstream
    token = await signed_in(portal)
    page = await portal.client.get("/portal/claims")
    assert page.status_code == 200
    assert "0 claims on this page, newest service date first, billed under your Tax IDs" in (
        page.text
    )
    (seen,) = upstream.seen
    assert (seen["method"], seen["path"]) == ("GET", "/claims/v1/claims")
    assert seen["headers"]["authorization"] == f"Bearer {token}"
    assert seen["headers"]["x-request-id"]


async def test_an_eligibility_check_posts_the_member_in_the_body_never_the_url(
    portal_and_upstream: tuple[Portal, Upstream],
) -> None:
    portal, upstream = portal_and_upstream
    await signed_in(portal)
    form = {"csrf_token": "csrf-1", "member_id": " M1000101 ", "date_of_birth": "1985-04-12"}
    page = await portal.client.post("/portal/eligibility", data=form)
    assert page.status_code == 200
    (seen,) = upstream.seen
    assert (seen["method"], seen["path"], seen["query"]) == (
        "POST",
        "/eligibility/v1/inquiries",
        "",
    )
    assert json.loads(seen["body"]) == {"member_id": "M1000101", "date_of_birth": "1985-04-12"}


async def test_a_claims_search_passes_only_the_filled_filters(
    portal_and_upstream: tuple[Portal, Upstream],
) -> None:
    portal, upstream = portal_and_upstream
    await signed_in(portal)
    form = {"csrf_token": "csrf-1", "member_id": "M1000101", "status": "paid", "tin": ""}
    sent = await portal.client.post("/portal/claims", data=form)
    assert sent.status_code == 303 and "M1000101" not in sent.headers["location"]
    assert upstream.seen == [], "the form only leads to the search's address"
    assert (await portal.client.get(sent.headers["location"])).status_code == 200
    assert upstream.seen[0]["query"] == "status=paid&member_id=M1000101&limit=25"


async def test_a_malformed_claim_number_is_not_passed_upstream(
    portal_and_upstream: tuple[Portal, Upstream],
) -> None:
    portal, upstream = portal_and_upstream
    await signed_in(portal)
    page = await portal.client.get("/portal/claims/..%2F..%2Fadmin")
    assert page.status_code == 404
    assert upstream.seen == []


async def test_an_unreachable_service_gets_a_page_that_says_so(portal: Portal) -> None:
    await signed_in(portal)
    page = await portal.client.get("/portal/claims")
    assert page.status_code == 502
    assert "did not answer" in page.text
    assert await portal.sessions.load("sess-1") is not None


async def test_sign_in_while_tinpass_is_unreachable_says_so(portal: Portal) -> None:
    page = await portal.client.get("/portal/login")
    assert page.status_code == 503
    assert "TINpass cannot be reached" in page.text


@pytest.mark.parametrize("look_alike", [full_width, arabic_indic])
async def test_a_tax_id_in_look_alike_digits_is_refused_by_the_form(
    portal_and_upstream: tuple[Portal, Upstream], look_alike: Callable[[str], str]
) -> None:
    portal, upstream = portal_and_upstream
    await signed_in(portal)
    form = {"csrf_token": "csrf-1", "tin": look_alike("12-3456789")}
    page = await portal.client.post("/portal/claims", data=form)
    assert page.status_code == 422
    assert "Billing Tax ID: use nine digits 0-9, like 12-3456789." in page.text
    by_address = await portal.client.get("/portal/claims", params={"tin": form["tin"]})
    assert by_address.status_code == 422
    assert "Billing Tax ID: use nine digits 0-9, like 12-3456789." in by_address.text
    assert upstream.seen == [], "nothing is asked of the plan"
    ascii_ = await portal.client.post("/portal/claims", data={**form, "tin": "12-3456789"})
    assert ascii_.status_code == 303
    assert (await portal.client.get(ascii_.headers["location"])).status_code == 200
    assert upstream.seen[0]["query"] == "tin=12-3456789&limit=25"


def test_only_ascii_tins_are_shown_with_a_dash() -> None:
    assert format_tin("123456789") == "12-3456789"
    assert format_tin(full_width("123456789")) == full_width("123456789")


async def test_a_refused_guess_is_explained_not_called_an_outage() -> None:
    """The plan's 429 (too many inquiries that did not match) reaches the person as it is."""
    detail = "Too many recent inquiries about this member did not match. Retry after 840 s."

    async def refused(request: Request) -> JSONResponse:
        body = {"type": "https://tinpass.dev/problems/too-many-failed-matches", "detail": detail}
        return JSONResponse(body, status_code=429, headers={"Retry-After": "840"})

    plan = Starlette(routes=[Route("/eligibility/v1/inquiries", refused, methods=["POST"])])
    async with serve(plan) as url, portal_before(url) as portal:
        await signed_in(portal)
        form = {"csrf_token": "csrf-1", "member_id": "M1000101", "date_of_birth": "1985-04-13"}
        page = await portal.client.post("/portal/eligibility", data=form)
    assert page.status_code == 429
    assert "Please wait before asking again" in page.text and "Retry after 840 s." in page.text
