"""The account page's sessions: described by browser and system, the current one
marked; signing out of another session ends it as logout does (its relying parties
get a back-channel logout token naming it); two-step sign-in said to be optional or
required by the organization."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from joserfc import jwt
from sqlalchemy import select, update
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from identity import admin_ops
from identity.keys import key_set
from identity.models import AuditEvent, Organization, SsoSession
from tests.identity.harness import PASSWORD, IdentityHarness, running_identity
from tests.support.oidc import Pkce, authorize_url, form_fields, query_of, sign_in
from tests.support.servers import serve

CLIENT = "account-rp"
REDIRECT = "http://127.0.0.1:9999/callback"
FIREFOX_ON_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
)
CHROME_ON_ANDROID = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36"
)
SESSION_FORM = re.compile(r'action="/account/sessions/([0-9a-f-]+)/end"')


@pytest.fixture(scope="module")
async def setup(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[IdentityHarness, list[str]]]:
    received: list[str] = []

    async def receive(request: Request) -> Response:
        received.append(str((await request.form())["logout_token"]))
        return Response(status_code=200)

    async with (
        serve(Starlette(routes=[Route("/bcl", receive, methods=["POST"])])) as url,
        running_identity(tmp_path_factory.mktemp("account")) as identity,
    ):
        async with identity.session() as session:
            await admin_ops.create_client(
                session,
                identity.settings,
                CLIENT,
                "A site with back-channel logout",
                kind="public",
                grant_types=["authorization_code"],
                scope="openid profile",
                auth_method="none",
                redirect_uris=[REDIRECT],
                backchannel_logout_uri=url + "/bcl",
            )
            await session.commit()
        yield identity, received


async def signed_in_at_site(
    identity: IdentityHarness, browser: httpx.AsyncClient, username: str
) -> dict[str, Any]:
    """Sign in through the relying party's authorization request; its ID token's claims."""
    pkce = Pkce.new()
    done = await sign_in(
        browser, authorize_url(CLIENT, REDIRECT, pkce, scope="openid profile"), username, PASSWORD
    )
    token = await browser.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": query_of(done.headers["location"])["code"],
            "redirect_uri": REDIRECT,
            "client_id": CLIENT,
            "code_verifier": pkce.verifier,
        },
    )
    assert token.status_code == 200, token.text
    return await claims_of(identity, token.json()["id_token"])


async def claims_of(identity: IdentityHarness, token: str) -> dict[str, Any]:
    keys = key_set(await identity.app.state.keystore.public_jwks())
    return dict(jwt.decode(token, keys, algorithms=["RS256", "ES256"]).claims)


async def post_account_form(browser: httpx.AsyncClient, action: str) -> httpx.Response:
    page = await browser.get("/account")
    fields = form_fields(page.text)
    return await browser.post(action, data={"csrf_token": fields["csrf_token"]})


async def test_sessions_are_described_and_another_one_signed_out_with_backchannel_logout(
    setup: tuple[IdentityHarness, list[str]],
) -> None:
    identity, received = setup
    async with (
        identity.client(headers={"User-Agent": FIREFOX_ON_WINDOWS}) as desk,
        identity.client(headers={"User-Agent": CHROME_ON_ANDROID}) as phone,
    ):
        claims = await signed_in_at_site(identity, desk, "sam.biller")
        await signed_in_at_site(identity, phone, "sam.biller")
        page = await phone.get("/account")
        assert "Chrome on Android <strong>(this browser)</strong>" in page.text
        assert "Firefox on Windows" in page.text and "Mozilla/5.0" not in page.text
        assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00">', page.text)
        assert SESSION_FORM.findall(page.text) == [claims["sid"]], "only the other one"
        ended = await post_account_form(phone, f"/account/sessions/{claims['sid']}/end")
        shown = await phone.get(ended.headers["location"])
        desk_after = await desk.get("/account")
    assert ended.status_code == 303 and "That session is signed out" in shown.text
    assert "Firefox on Windows" not in shown.text
    assert (
        desk_after.status_code == 303 and desk_after.headers["location"] == "/login?next=/account"
    )
    await identity.app.state.backchannel.deliver_due()
    told = [(await claims_of(identity, token))["sid"] for token in received]
    assert claims["sid"] in told, "the site got a logout token naming the session"
    async with identity.session() as session:
        row = await session.get(SsoSession, claims["sid"])
        event = await session.scalar(
            select(AuditEvent)
            .where(AuditEvent.event == "session.ended")
            .order_by(AuditEvent.id.desc())
        )
    assert row is not None and row.end_reason == "signed_out_from_account"
    assert event is not None and event.details == {
        "sid": claims["sid"],
        "reason": "signed_out_from_account",
    }


async def test_another_persons_session_cannot_be_signed_out(
    setup: tuple[IdentityHarness, list[str]],
) -> None:
    identity, _ = setup
    async with identity.client() as victim, identity.client() as other:
        claims = await signed_in_at_site(identity, victim, "hana.harb")
        await signed_in_at_site(identity, other, "ever.admin")
        refused = await post_account_form(other, f"/account/sessions/{claims['sid']}/end")
        shown = await other.get(refused.headers["location"])
        still = await victim.get("/account")
        forged = await other.post(
            f"/account/sessions/{claims['sid']}/end", data={"csrf_token": "forged"}
        )
    assert "That session had already ended." in shown.text
    assert still.status_code == 200 and forged.status_code == 303
    async with identity.session() as session:
        row = await session.get(SsoSession, claims["sid"])
    assert row is not None and row.ended_at is None


async def test_signing_out_this_browser_from_its_row_or_the_plain_button(
    setup: tuple[IdentityHarness, list[str]],
) -> None:
    identity, _ = setup
    async with identity.client() as browser:
        claims = await signed_in_at_site(identity, browser, "ever.admin")
        done = await post_account_form(browser, f"/account/sessions/{claims['sid']}/end")
        after = await browser.get("/account")
        await signed_in_at_site(identity, browser, "ever.admin")
        page = await browser.get("/account")
        plain = next(
            form_fields(page.text, i)
            for i in range(page.text.count("<form"))
            if form_fields(page.text, i)["__action__"] == "/logout"
        )
        plain.pop("__action__")
        out = await browser.post("/logout", data=plain)
        again = await browser.get("/account")
    assert done.status_code == 200 and "You are signed out" in done.text
    assert after.status_code == 303
    assert out.status_code == 200 and "You are signed out" in out.text
    assert again.status_code == 303 and again.headers["location"] == "/login?next=/account"


async def test_two_step_sign_in_is_optional_unless_the_organization_requires_it(
    setup: tuple[IdentityHarness, list[str]],
) -> None:
    identity, _ = setup
    evergreen = Organization.name == "Evergreen Family Clinic"
    async with identity.client() as browser:
        await signed_in_at_site(identity, browser, "sam.biller")
        optional = await browser.get("/account")
        optional_mfa = await browser.get("/account/mfa")
        async with identity.session() as session:
            await session.execute(update(Organization).where(evergreen).values(mfa_required=True))
            await session.commit()
        try:
            required = await browser.get("/account")
            required_mfa = await browser.get("/account/mfa")
        finally:
            async with identity.session() as session:
                await session.execute(
                    update(Organization).where(evergreen).values(mfa_required=False)
                )
                await session.commit()
    assert re.search(r'id="mfa-summary">off,\s+optional</dd>', optional.text)
    assert "It is optional" in optional_mfa.text
    assert "required by your organization Evergreen Family Clinic" in required.text
    assert "It is required by your organization Evergreen Family Clinic." in required_mfa.text
