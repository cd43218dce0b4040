"""Ways in, in a real browser (Playwright driving Debian's chromium), with axe-core on
every page state built here: the front page; the TOTP QR code, which must render and
carry the secret (decoded from the pixels the browser drew, then a code computed from
it turns two-step sign-in on); the page explaining a sign-in refused while the
organization waits for verification; the console's plan-role prompt and empty-
invitation warning; the join and welcome pages; the portal's refusal pages."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
import zxingcpp
from playwright.async_api import Browser, Page
from sqlalchemy import update

from deploy.stack import free_port
from identity.models import Membership
from tests.gateway.portal.conftest import portal_before
from tests.gateway.portal.test_refusals import ADMIN, refusing
from tests.identity.admin_flows import org_id_of, user_id_of
from tests.identity.harness import (
    PASSWORD,
    PORTAL,
    PORTAL_REDIRECT,
    IdentityHarness,
    running_identity,
)
from tests.identity.web.test_console_browser import register, sign_in
from tests.support.a11y import assert_accessible
from tests.support.browser import browser_page, launched_browser
from tests.support.oidc import Pkce, authorize_url
from tests.support.servers import serve
from tests.support.smtp import Inbox, smtp_server

NEW_PASSWORD = "Lakeside.Passw0rd-9"
# The QR image as the browser drew it, as grey levels (0-255) row by row.
READ_PIXELS = """(img) => {
  const scale = 2, w = img.naturalWidth * scale, h = img.naturalHeight * scale;
  const canvas = document.createElement("canvas");
  canvas.width = w; canvas.height = h;
  const context = canvas.getContext("2d");
  context.fillStyle = "#fff"; context.fillRect(0, 0, w, h);
  context.drawImage(img, 0, 0, w, h);
  const rgba = context.getImageData(0, 0, w, h).data, grey = new Array(w * h);
  for (let i = 0; i < w * h; i++) grey[i] = Math.round((rgba[4*i] + rgba[4*i+1] + rgba[4*i+2]) / 3);
  return {width: w, height: h, grey};
}"""


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
        tmp = tmp_path_factory.mktemp("entry")
        async with running_identity(tmp, **options) as identity, serve(identity.app, port):
            yield identity, inbox, issuer


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with launched_browser() as launched:
        yield launched


async def qr_secret(page: Page) -> str:
    """The otpauth:// secret, decoded from the QR image as the browser rendered it."""
    image = page.locator("img#qr")
    natural = await image.evaluate("(img) => [img.complete, img.naturalWidth, img.naturalHeight]")
    assert natural[0] and natural[1] > 0 and natural[2] > 0, (
        f"the QR image did not render: {natural}"
    )
    drawn = await image.evaluate(READ_PIXELS)
    pixels = memoryview(bytes(drawn["grey"])).cast("B", (drawn["height"], drawn["width"]))
    found = zxingcpp.read_barcodes(pixels)
    assert len(found) == 1, "exactly one QR code in the image"
    uri = urlsplit(found[0].text)
    assert uri.scheme == "otpauth" and uri.netloc == "totp"
    return parse_qs(uri.query)["secret"][0]


async def test_front_page_and_the_qr_code_that_enrols(
    world: tuple[IdentityHarness, Inbox, str], browser: Browser
) -> None:
    _, _, issuer = world
    async with browser_page(browser, "entry-1-qr") as page:
        await page.goto(f"{issuer}/")
        await page.get_by_role("heading", name="one sign-in for health plans").wait_for()
        await assert_accessible(page, "entry_home_visitor")
        await sign_in(page, issuer, "sam.biller", PASSWORD)
        await page.goto(f"{issuer}/")
        await page.get_by_role("heading", name="Welcome, Sam").wait_for()
        await assert_accessible(page, "entry_home_signed_in")
        await page.goto(f"{issuer}/account/mfa")
        await page.get_by_role("button", name="Turn on two-step sign-in").click()
        await page.get_by_role("heading", name="Set up two-step sign-in").wait_for()
        await assert_accessible(page, "entry_enroll_qr")
        secret = await qr_secret(page)
        assert secret == await page.locator("#secret").inner_text(), "the QR holds the key shown"
        await page.get_by_label("Code from your app").fill(pyotp.TOTP(secret).now())
        await page.get_by_role("button", name="Turn on two-step sign-in").click()
        await page.get_by_role("heading", name="Save your recovery codes").wait_for()


async def test_pending_organization_first_administrator_and_invitations(
    world: tuple[IdentityHarness, Inbox, str], browser: Browser
) -> None:
    identity, inbox, issuer = world
    async with browser_page(browser, "entry-2-pending") as applicant:
        await applicant.goto(f"{issuer}/register")
        await assert_accessible(applicant, "entry_register_form")
        await register(applicant, issuer)
        await applicant.goto(inbox.link(inbox.to("lee@lakeside.example")[-1]))
        await applicant.get_by_role("button", name="Confirm my e-mail address").click()
        await applicant.goto(issuer + authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new()))
        await applicant.get_by_label("Username").fill("lee.lake")
        await applicant.get_by_label("Password").fill(NEW_PASSWORD)
        await applicant.get_by_role("button", name="Sign in").click()
        await applicant.get_by_role(
            "heading", name="Your organization is waiting for verification"
        ).wait_for()
        assert "Lakeside Clinic" in await applicant.locator("main").inner_text()
        await assert_accessible(applicant, "entry_refused_pending")

    org = await org_id_of(identity, "Evergreen Family Clinic")
    async with identity.session() as session:
        eve = await user_id_of(identity, "ever.admin")
        await session.execute(
            update(Membership).where(Membership.user_id == eve).values(plan_roles=[])
        )
        await session.commit()
    async with browser_page(browser, "entry-3-console") as admin:
        await sign_in(admin, issuer, "ever.admin", PASSWORD)
        await admin.goto(f"{issuer}/console/orgs/{org}")
        await admin.get_by_role("heading", name="Give yourself a plan role").wait_for()
        await assert_accessible(admin, "entry_console_plan_role_prompt")
        prompt = admin.locator("form[action$='/own-plan-roles']")
        await prompt.get_by_label("billing").check()
        await admin.get_by_role("button", name="Save my plan roles").click()
        await admin.get_by_text("Your plan roles were saved").wait_for()
        await admin.get_by_label("E-mail address").fill("nia@evergreen.example")
        await admin.get_by_label("First name").fill("Nia")
        await admin.get_by_role("button", name="Send invitation").click()
        await admin.get_by_text("it gives no Tax ID and no plan role").wait_for()
        await assert_accessible(admin, "entry_console_invitation_warning")

    async with browser_page(browser, "entry-4-join") as nominee:
        await nominee.goto(inbox.link(inbox.to("nia@evergreen.example")[-1]))
        await nominee.get_by_text("Evergreen Family Clinic invites you").wait_for()
        await assert_accessible(nominee, "entry_join")
        await nominee.get_by_label("Choose a username").fill("nia.nurse")
        await nominee.get_by_label("Choose a password").fill("short")
        await nominee.get_by_role("button", name="Create my account").click()
        assert await nominee.get_by_label("Choose a username").input_value() == "nia.nurse"
        await assert_accessible(nominee, "entry_join_password_refused")
        await nominee.get_by_label("Choose a password").fill(NEW_PASSWORD)
        await nominee.get_by_role("button", name="Create my account").click()
        await nominee.get_by_role("heading", name="Your account is ready").wait_for()
        await assert_accessible(nominee, "entry_welcome")


async def test_the_portals_refusals_in_a_browser(browser: Browser) -> None:
    port = free_port()
    async with (
        serve(refusing("missing_role")) as plan,
        portal_before(plan, base_url=f"http://127.0.0.1:{port}") as portal,
        serve(portal.app, port) as url,
    ):
        tokens = {"access_token": portal.issuer.mint(), "expires_at": time.time() + 300}
        data = {"sid": "sso-a", "sub": "u-1", "user": ADMIN, "tokens": tokens, "csrf": "csrf-1"}
        await portal.sessions.save("sess-1", data)
        async with browser_page(browser, "entry-5-portal") as page:
            cookie = {"name": portal.cookie, "value": "sess-1", "url": f"{url}/portal/"}
            await page.context.add_cookies([cookie])  # type: ignore[list-item]
            await page.goto(f"{url}/portal/")
            await page.get_by_role("heading", name="Your account has no plan role yet").wait_for()
            await assert_accessible(page, "entry_portal_no_role")
            again = page.get_by_role("link", name="Sign in to Cascade Health Plan again")
            assert await again.get_attribute("href") == "/portal/login"
            assert await page.get_by_text("Back to the portal home").count() == 0
            await page.goto(f"{url}/portal/denied")
            await page.get_by_role("heading", name="not authorized for this plan").wait_for()
            await assert_accessible(page, "entry_portal_denied")
