"""In a real browser (Playwright driving Debian's chromium): registration →
e-mail confirmation → operator verification → nomination in the console →
activation by the invitation link → sign-in at a relying party, which sees the
new subscriber's Tax ID. Mail goes through a real SMTP server."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse
from starlette.routing import Route

from deploy.stack import free_port
from identity import admin_ops
from tests.identity.harness import PASSWORD, IdentityHarness, running_identity
from tests.support.browser import browser_page, launched_browser
from tests.support.oidc import Pkce, jwt_claims
from tests.support.servers import serve
from tests.support.smtp import Inbox, smtp_server

NEW_PASSWORD = "Lakeside.Passw0rd-9"


@pytest.fixture(scope="module")
async def world(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[IdentityHarness, Inbox, str]]:
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    with smtp_server() as (inbox, smtp_port):
        options: dict[str, Any] = {
            "issuer": issuer,
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_port,
            "smtp_starttls": False,
        }
        tmp = tmp_path_factory.mktemp("console")
        async with running_identity(tmp, **options) as identity, serve(identity.app, port):
            yield identity, inbox, issuer


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with launched_browser() as launched:
        yield launched


def relying_party(issuer: str, client_id: str, redirect_uri: str) -> Starlette:
    """A minimal relying party: code flow with PKCE, then shows the token's TINs."""
    pending: dict[str, Pkce] = {}

    async def start(request: Request) -> RedirectResponse:
        state, pkce = secrets.token_urlsafe(16), Pkce.new()
        pending[state] = pkce
        query = httpx.QueryParams(
            response_type="code",
            client_id=client_id,
            redirect_uri=redirect_uri,
            scope="openid profile",
            state=state,
            nonce=secrets.token_urlsafe(8),
            code_challenge=pkce.challenge,
            code_challenge_method="S256",
        )
        return RedirectResponse(f"{issuer}/authorize?{query}", status_code=302)

    async def callback(request: Request) -> HTMLResponse:
        pkce = pending.pop(request.query_params["state"])
        async with httpx.AsyncClient() as client:
            answer = await client.post(
                f"{issuer}/token",
                data={
                    "grant_type": "authorization_code",
                    "code": request.query_params["code"],
                    "redirect_uri": redirect_uri,
                    "client_id": client_id,
                    "code_verifier": pkce.verifier,
                },
            )
        claims = jwt_claims(answer.json()["access_token"])
        tins = " ".join(claims["tax_ids"])
        return HTMLResponse(f"<h1>Welcome</h1><p id='tins'>{tins}</p>")

    return Starlette(routes=[Route("/start", start), Route("/callback", callback)])


async def sign_in(page: Page, issuer: str, username: str, password: str) -> None:
    await page.goto(f"{issuer}/login")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("heading", name="You are signed in").wait_for()


async def register(page: Page, issuer: str) -> None:
    await page.goto(f"{issuer}/register")
    answers = {
        "Organization's legal name": "Lakeside Clinic",
        "Street address": "1 Lake Way",
        "City": "Tacoma",
        "State (two letters)": "WA",
        "ZIP code": "98402",
        "Phone": "253 555 0100",
        "Primary Tax ID (TIN), like 12-3456789": "77-0000099",
        "Legal name registered with the IRS for this Tax ID": "Lakeside Clinic PLLC",
        "NPI(s), separated by commas": "1234567893",
        "Your first name": "Lee",
        "Your last name": "Lakeside",
        "Your e-mail address": "lee@lakeside.example",
        "Choose a username": "lee.lake",
        "Choose a password": NEW_PASSWORD,
    }
    for label, value in answers.items():
        await page.get_by_label(label, exact=True).fill(value)
    await page.get_by_label("I attest that my organization owns this Tax ID").check()
    await page.get_by_role("button", name="Register").click()
    await page.get_by_role("heading", name="Check your e-mail").wait_for()


async def test_registration_to_relying_party_in_a_browser(
    world: tuple[IdentityHarness, Inbox, str], browser: Browser, tmp_path: Path
) -> None:
    identity, inbox, issuer = world
    rp_port = free_port()
    rp_redirect = f"http://127.0.0.1:{rp_port}/callback"
    async with identity.session() as session:
        await admin_ops.create_client(
            session,
            identity.settings,
            "lakeside-rp",
            "A plan portal",
            kind="public",
            grant_types=["authorization_code"],
            scope="openid profile",
            auth_method="none",
            redirect_uris=[rp_redirect],
        )
        await session.commit()

    async with browser_page(browser, "console-1-applicant") as applicant:
        await register(applicant, issuer)
        await applicant.goto(inbox.link(inbox.to("lee@lakeside.example")[-1]))
        await applicant.get_by_role("button", name="Confirm my e-mail address").click()
        await applicant.get_by_role("heading", name="Your e-mail address is confirmed").wait_for()
        await sign_in(applicant, issuer, "lee.lake", NEW_PASSWORD)
        await applicant.goto(f"{issuer}/console")
        await applicant.get_by_text("Waiting for verification").wait_for()

        async with browser_page(browser, "console-2-operator") as operator:
            await sign_in(operator, issuer, "ops.olivia", PASSWORD)
            await operator.goto(f"{issuer}/console/operator")
            await operator.get_by_role("button", name="Verify Lakeside Clinic").click()
            await operator.get_by_text("The organization is verified").wait_for()
            await operator.get_by_text("Lakeside Clinic PLLC").first.wait_for()
            await operator.get_by_role(
                "button", name="Verify Tax ID 77-0000099 for Lakeside Clinic"
            ).click()
            await operator.get_by_text("The Tax ID is verified").wait_for()
        assert "is verified" in inbox.to("lee@lakeside.example")[-2]["Subject"]
        assert inbox.to("lee@lakeside.example")[-1]["Subject"] == "A Tax ID was verified on TINpass"

        await applicant.goto(f"{issuer}/console")
        await applicant.get_by_role("link", name="Lakeside Clinic").click()
        await applicant.get_by_text("only one administrator").wait_for()
        await applicant.get_by_label("E-mail address").fill("nia@lakeside.example")
        await applicant.get_by_label("First name").fill("Nia")
        await applicant.get_by_label("Last name").fill("Nurse")
        nominate = applicant.locator("form[action$='/nominations']")
        await nominate.get_by_label("billing").check()
        await nominate.get_by_label("77-0000099").check()
        await applicant.get_by_role("button", name="Send invitation").click()
        await applicant.get_by_text("The invitation was sent.").wait_for()

    async with browser_page(browser, "console-3-nominee") as nominee:
        await nominee.goto(inbox.link(inbox.to("nia@lakeside.example")[-1]))
        await nominee.get_by_label("Choose a username").fill("nia.nurse")
        await nominee.get_by_label("Choose a password").fill(NEW_PASSWORD)
        await nominee.get_by_role("button", name="Create my account").click()
        await nominee.get_by_role("heading", name="Your account is ready").wait_for()
        async with serve(relying_party(issuer, "lakeside-rp", rp_redirect), rp_port) as rp:
            await nominee.goto(f"{rp}/start")
            await nominee.get_by_label("Username").fill("nia.nurse")
            await nominee.get_by_label("Password").fill(NEW_PASSWORD)
            await nominee.get_by_role("button", name="Sign in").click()
            await nominee.get_by_role("heading", name="Welcome").wait_for()
            assert await nominee.locator("#tins").inner_text() == "770000099"
