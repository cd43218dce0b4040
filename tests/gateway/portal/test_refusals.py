"""The portal's refusals say what to do and never loop: a person the plan refuses (no
plan role, no matching Tax ID) is offered TINpass, signing in again and signing out,
never "Back to the portal home" (the page that refused them). An administrator is told
where in TINpass to give herself what she lacks; others whom to ask."""

from __future__ import annotations

import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.gateway.portal.conftest import Portal, portal_before
from tests.support.servers import serve

ADMIN = {
    "username": "lee.lake",
    "name": "Lee Lakeside",
    "org_name": "Lakeside Clinic",
    "tax_ids": ["770000099"],
    "roles": ["administrator"],
    "orgs": [{"id": "o-1", "name": "Lakeside Clinic", "tax_ids": ["770000099"], "roles": []}],
}
SUBSCRIBER = ADMIN | {"username": "nia.nurse", "name": "Nia Nurse", "roles": ["subscriber"]}


async def signed_in_as(portal: Portal, user: dict[str, Any]) -> None:
    tokens = {"access_token": portal.issuer.mint(), "expires_at": time.time() + 300}
    data = {"sid": "sso-a", "sub": "u-1", "user": user, "tokens": tokens, "csrf": "csrf-1"}
    await portal.sessions.save("sess-1", data)
    portal.client.cookies.set(portal.cookie, "sess-1", domain="portal.test", path="/portal")


def refusing(reason: str) -> Starlette:
    async def refuse(request: Request) -> JSONResponse:
        body = {"type": "https://tinpass.dev/problems/access-denied", "reason": reason}
        return JSONResponse(body | {"detail": "Ask your organization's administrator."}, 403)

    return Starlette(routes=[Route("/eligibility/v1/providers", refuse)])


def assert_no_loop(text: str) -> None:
    assert "Back to the portal home" not in text
    assert 'href="/portal/login"' in text, "sign in again, once roles or Tax IDs changed"
    assert 'action="/portal/logout"' in text and 'value="csrf-1"' in text


async def test_the_first_administrator_without_a_plan_role_is_told_where_to_give_it() -> None:
    async with serve(refusing("missing_role")) as url, portal_before(url) as portal:
        await signed_in_as(portal, ADMIN)
        page = await portal.client.get("/portal/")
        await signed_in_as(portal, SUBSCRIBER)
        other = await portal.client.get("/portal/")
    assert page.status_code == 403 and "Your account has no plan role yet" in page.text
    assert "You are your organization's TINpass administrator" in page.text
    assert "Give yourself a plan role" in page.text
    assert f'href="{portal.app.state.settings.issuer.rstrip("/")}/console"' in page.text
    assert "ask your administrator" not in page.text.lower()
    assert_no_loop(page.text)
    assert other.status_code == 403
    assert "Ask your organization's TINpass administrator" in other.text
    assert "You are your organization's TINpass administrator" not in other.text
    assert_no_loop(other.text)


async def test_no_matching_tax_id_offers_ways_on_not_the_same_page() -> None:
    async with serve(refusing("no_matching_provider_record")) as url, portal_before(url) as portal:
        await signed_in_as(portal, ADMIN)
        page = await portal.client.get("/portal/")
        again = await portal.client.get("/portal/denied")
    assert page.status_code == 403 and "not authorized for this plan" in page.text
    assert "You are your organization's TINpass administrator" in page.text
    assert_no_loop(page.text)
    assert_no_loop(again.text)


async def test_any_other_refusal_offers_ways_on_too() -> None:
    async with serve(refusing("insufficient_scope")) as url, portal_before(url) as portal:
        await signed_in_as(portal, SUBSCRIBER)
        page = await portal.client.get("/portal/")
    assert page.status_code == 403 and "Access denied" in page.text
    assert_no_loop(page.text)


async def test_a_refusal_from_tinpass_points_to_tinpass_for_the_reason(portal: Portal) -> None:
    await portal.client.get("/portal/login")
    refused = await portal.client.get("/portal/callback?error=access_denied&state=s-1")
    broken = await portal.client.get("/portal/callback?code=c-1&state=not-ours")
    assert refused.status_code == 400 and "did not let your account into" in refused.text
    assert "waiting for verification by TINpass staff" in refused.text
    assert "did not let your account" not in broken.text
