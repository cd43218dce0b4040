"""Every HTML page of TINpass (identity) and of a plan's portal, in a real browser, in
each state a person meets: signed out, signed in as a subscriber (sam.biller), an
organization's administrator (ever.admin) and a TINpass operator (ops.olivia); forms
with errors; the portal's eligibility result, claims list, claim with its explanation
of benefits, and its refusal page (docs/demo-data.md describes the people and data).

Each page state is checked at desktop width (1280 px) and on a phone (375 px):
- axe-core finds no serious or critical violation (tests/support/a11y.assert_accessible,
  which keeps a screenshot of each: test-output/screenshots/a11y_<page>.png);
- every focusable element shows a focus ring with at least 3:1 contrast against the
  colours next to it (tests/e2e/page_checks.py);
- at 375 px the page is no wider than the screen.
A last test checks that the tour visited every GET route of identity's web routers and of
the portal; a route is left out only with the reason written in `NOT_PAGES`.

With TINPASS_UPDATE_SCREENSHOTS=1 the README's screenshots (docs/screenshots/) are
copied from this run's: the portal's eligibility result, a claim with its explanation of
benefits, and the administration console of an organization.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, Response, ViewportSize, expect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from deploy.stack import Stack
from identity import action_tokens
from identity.models import User
from tests.e2e import page_checks
from tests.support.a11y import assert_accessible
from tests.support.browser import SCREENSHOTS, browser_page, launched_browser

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]  # one tour, in the first setup

PASSWORD = "Demo.Passw0rd-2026"
INVITED = "every.page@evergreen.example"
DESKTOP = ViewportSize(width=1280, height=800)
PHONE = ViewportSize(width=375, height=800)
README_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# Page state checked here -> file name in docs/screenshots/ (README.md shows them).
FOR_README = {
    "portal_eligibility_result": "portal-eligibility.png",
    "portal_claim": "portal-claim-eob.png",
    "identity_console_org": "console-organization.png",
}

# GET routes that answer no HTML page, each with the reason it is not visited.
NOT_PAGES = {
    "identity": {
        "/.well-known/openid-configuration": "OpenID Connect discovery document (JSON)",
        "/.well-known/oauth-authorization-server": "OAuth metadata (RFC 8414, JSON)",
        "/.well-known/jwks.json": "the signing keys (JSON)",
        "/userinfo": "OpenID Connect UserInfo endpoint for relying parties (JSON)",
        "/healthz": "liveness probe (JSON)",
        "/readyz": "readiness probe (JSON)",
        "/status/audit": "audit trail status for monitoring (JSON)",
        "/console/orgs/{org_id}/access-review.csv": "a CSV download, not a page",
    },
    "portal": {
        "/portal/login": "sends the browser on to TINpass's /authorize (every portal sign-in "
        "here goes through it); its own page shows only while TINpass is unreachable",
        "/portal/callback": "takes TINpass's answer and sends the browser on to /portal/ "
        "(every portal sign-in here goes through it); its own page shows only when the "
        "sign-in fails at TINpass",
    },
}


@dataclass
class Tour:
    """The page states checked, what was wrong with them, and every page (HTML answer)
    the browser was sent to, by link, form, redirect or address."""

    stack: Stack
    checked: list[str] = field(default_factory=list)
    problems: dict[str, list[str]] = field(default_factory=dict)
    visits: set[tuple[str, str]] = field(default_factory=set)

    def kind(self, url: str) -> str:
        if url.startswith(self.stack.issuer):
            return "identity"
        return "portal"

    def watch(self, page: Page) -> None:
        def seen(response: Response) -> None:
            if response.frame != page.main_frame or not response.request.is_navigation_request():
                return
            if "text/html" in response.headers.get("content-type", ""):
                url = response.url.split("?", 1)[0].split("#", 1)[0]
                path = "/" + url.split("/", 3)[3] if url.count("/") >= 3 else "/"
                self.visits.add((self.kind(url), path))

        page.on("response", seen)

    def problem(self, kind: str, message: str) -> None:
        self.problems.setdefault(kind, []).append(message)

    async def check(self, page: Page, name: str) -> None:
        """Axe and focus rings at desktop width, then width and axe at 375 px."""
        await page.wait_for_load_state("load")
        self.checked.append(name)
        try:
            await assert_accessible(page, name)
        except AssertionError as failed:
            self.problem("axe", str(failed))
        focusables, rings = await page_checks.focus_ring_problems(page)
        self.problems.setdefault("rings", []).extend(f"{name}: {r}" for r in rings)
        if focusables == 0:
            self.problem("rings", f"{name}: nothing on the page can be focused")
        await page.set_viewport_size(PHONE)
        try:
            if too_wide := await page_checks.overflow(page, PHONE["width"]):
                self.problem("width", f"{name}: {too_wide}")
            await assert_accessible(page, f"{name}_375px")
        except AssertionError as failed:
            self.problem("axe", str(failed))
        finally:
            await page.set_viewport_size(DESKTOP)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with launched_browser() as launched:
        yield launched


@asynccontextmanager
async def persona(browser: Browser, tour: Tour, name: str) -> AsyncIterator[Page]:
    async with browser_page(browser, f"every_page_{name}") as page:
        await page.set_viewport_size(DESKTOP)
        tour.watch(page)
        yield page


async def sign_in(page: Page, username: str, password: str = PASSWORD) -> None:
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()


async def emailed_links(stack: Stack) -> tuple[str, str]:
    """The tokens of a password reset link and of an e-mail change link for sam.biller,
    as TINpass e-mails them (opening either page uses neither)."""
    engine = create_async_engine(stack.identity_db)
    try:
        async with AsyncSession(engine) as session:
            sam = await session.scalar(select(User.id).where(User.username == "sam.biller"))
            assert sam is not None
            reset = await action_tokens.issue(session, "password_reset", sam, 3600)
            email = await action_tokens.issue(
                session, "email_change", sam, 3600, email="sam.new@evergreen.example"
            )
            await session.commit()
    finally:
        await engine.dispose()
    return reset, email


async def signed_out_pages(page: Page, tour: Tour) -> None:
    await page.goto(tour.stack.issuer + "/")
    await tour.check(page, "identity_front_page")
    # The pages a registration and an invitation lead to (post/redirect/get), as a
    # browser without the form's answer sees them.
    await page.goto(tour.stack.issuer + "/register/sent")
    await tour.check(page, "identity_registration_sent")
    await page.goto(tour.stack.issuer + "/nominations/welcome")
    await tour.check(page, "identity_invitation_welcome")
    issuer, cascade = tour.stack.issuer, tour.stack.url("gateway")
    await page.goto(issuer + "/login")
    await tour.check(page, "identity_login")
    await sign_in(page, "no.such.person", "not-the-password")
    await expect(page.get_by_role("alert")).to_be_visible()
    await tour.check(page, "identity_login_error")
    for path, name in [
        ("/forgot-password", "identity_forgot_password"),
        ("/forgot-username", "identity_forgot_username"),
        ("/reset-password", "identity_reset_password_without_link"),
        ("/register", "identity_register"),
    ]:
        await page.goto(issuer + path)
        await tour.check(page, name)
    await page.get_by_role("button", name="Register").click()
    await expect(page.get_by_role("alert").first).to_be_visible()
    await tour.check(page, "identity_register_errors")
    for path in ("/register/confirm", "/nominations/accept", "/confirm-email"):
        await page.goto(issuer + path)  # the same "link not valid" page as /reset-password's
    for path, name in [
        ("/authorize", "identity_authorize_without_request"),
        ("/logout", "identity_logout_signed_out"),
    ]:
        await page.goto(issuer + path)
        await tour.check(page, name)
    for path in ("/account", "/account/password", "/account/profile", "/account/email"):
        await page.goto(issuer + path)  # each sends a signed-out visitor to sign in
    for path in ("/account/mfa", "/console", "/console/operator"):
        await page.goto(issuer + path)
    reset, email = await emailed_links(tour.stack)
    await page.goto(f"{issuer}/reset-password?token={reset}")
    await tour.check(page, "identity_reset_password")
    await page.goto(f"{issuer}/confirm-email?token={email}")
    await tour.check(page, "identity_confirm_email")
    await page.goto(cascade + "/portal/")
    await tour.check(page, "portal_landing")
    await page.goto(cascade + "/portal/signed-out")
    await tour.check(page, "portal_signed_out")


async def subscriber_portal(page: Page, tour: Tour) -> None:
    cascade, summit = tour.stack.url("gateway"), tour.stack.url("summit-gateway")
    await page.goto(cascade + "/portal/")
    await page.get_by_role("link", name="Sign in with TINpass").click()
    await sign_in(page, "sam.biller")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Welcome")
    await tour.check(page, "portal_home")
    await page.get_by_role("link", name="Eligibility", exact=True).click()
    await tour.check(page, "portal_eligibility_form")
    await page.get_by_label("Member ID").fill("   ")  # blank once trimmed: the plan says so
    await page.get_by_label("Member's date of birth").fill("1985-04-12")
    await page.get_by_role("button", name="Check eligibility").click()
    await expect(page.get_by_role("alert")).to_be_visible()
    await tour.check(page, "portal_eligibility_errors")
    await page.get_by_label("Member ID").fill("M1000101")
    await page.get_by_role("button", name="Check eligibility").click()
    await expect(page.get_by_role("heading", name="Benefits", exact=True)).to_be_visible()
    await tour.check(page, "portal_eligibility_result")
    await page.get_by_role("link", name="Claims", exact=True).click()
    await tour.check(page, "portal_claims")
    await page.get_by_label("Status").select_option("paid")
    await page.get_by_role("button", name="Search").click()
    await page.get_by_role("table").locator("tbody tr").first.get_by_role("link").click()
    await expect(page.get_by_role("heading", name="Service lines")).to_be_visible()
    await tour.check(page, "portal_claim")
    await page.goto(cascade + "/portal/claims/NO-SUCH-CLAIM")
    await tour.check(page, "portal_claim_not_found")
    await page.goto(summit + "/portal/")
    await page.get_by_role("link", name="Sign in with TINpass").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("not authorized")
    await tour.check(page, "portal_refusal")
    await page.goto(summit + "/portal/denied")


async def subscriber_account(page: Page, tour: Tour) -> None:
    issuer = tour.stack.issuer
    await page.goto(issuer + "/account")
    await tour.check(page, "identity_account")
    for path, name in [
        ("/account/profile", "identity_account_profile"),
        ("/account/email", "identity_account_email"),
        ("/account/password", "identity_account_password"),
    ]:
        await page.goto(issuer + path)
        await tour.check(page, name)
    await page.get_by_label("Current password").fill(PASSWORD)
    await page.get_by_label("New password", exact=True).fill("Another.Passw0rd-1")
    await page.get_by_label("The new password again").fill("Different.Passw0rd-2")
    await page.get_by_role("button", name="Change it").click()
    await tour.check(page, "identity_account_password_errors")
    await page.goto(issuer + "/account/mfa")
    await tour.check(page, "identity_account_mfa")
    await page.get_by_role("button", name="Turn on two-step sign-in").click()
    await tour.check(page, "identity_mfa_enrollment")
    await page.goto(issuer + "/console")
    await tour.check(page, "identity_console_subscriber")
    await page.goto(issuer + "/")
    await tour.check(page, "identity_front_page_signed_in")
    await page.goto(issuer + "/logout")
    await tour.check(page, "identity_logout")


async def administrator_pages(page: Page, tour: Tour) -> None:
    issuer = tour.stack.issuer
    await page.goto(issuer + "/console")
    await sign_in(page, "ever.admin")
    await tour.check(page, "identity_signed_in")
    await page.goto(issuer + "/console")
    await tour.check(page, "identity_console")
    await page.get_by_role("link", name="Evergreen Family Clinic").click()
    await tour.check(page, "identity_console_org")
    await page.get_by_label("Add a Tax ID").fill("12-34")
    await page.get_by_role("button", name="Ask TINpass to verify this Tax ID").click()
    await tour.check(page, "identity_console_org_error")
    await page.goto(issuer + "/console")
    await page.get_by_role("link", name="Evergreen Family Clinic").click()
    await page.get_by_role("link", name=re.compile("Integrator clients")).click()
    await tour.check(page, "identity_console_clients")
    await page.get_by_label("Name", exact=True).fill("Every page client")
    await page.get_by_role("button", name="Create client").click()
    await expect(page.get_by_role("button", name=re.compile("I have stored"))).to_be_visible()
    await tour.check(page, "identity_console_client_secret")
    await page.get_by_role("link", name="Back to the clients").click()
    await confirmation(page, tour, 'form[action$="/delete"]', "identity_confirm_client_delete")
    await page.goto(issuer + "/console")
    await page.get_by_role("link", name="Evergreen Family Clinic").click()
    await confirmation(page, tour, 'form[action*="/tax-ids/"]', "identity_confirm_tin_remove")
    await page.goto(issuer + "/console")
    await page.get_by_role("link", name="Evergreen Family Clinic").click()
    await confirmation(page, tour, 'form[action$="/suspend"]', "identity_confirm_suspend")
    await page.goto(issuer + "/console")
    await page.get_by_role("link", name="Evergreen Family Clinic").click()
    await confirmation(
        page, tour, 'form[action$="/remove"][action*="/members/"]', "identity_confirm_member_remove"
    )
    await page.goto(issuer + "/console")
    await page.get_by_role("link", name="Evergreen Family Clinic").click()
    await page.get_by_label("E-mail address", exact=True).fill(INVITED)
    await page.get_by_role("button", name="Send invitation").click()
    await tour.check(page, "identity_console_org_invited")
    await page.goto(invitation_link(tour.stack, INVITED))
    await tour.check(page, "identity_invitation")


async def confirmation(page: Page, tour: Tour, form: str, name: str) -> None:
    """The confirmation page a destructive action's button opens (a GET form), checked,
    then left by its Cancel link: nothing is removed on the shared stack."""
    action = await page.locator(form).first.get_attribute("action")
    assert action, form
    await page.goto(tour.stack.issuer + action)
    await expect(page.get_by_role("link", name=re.compile("Cancel"))).to_be_visible()
    await tour.check(page, name)
    await page.get_by_role("link", name=re.compile("Cancel")).click()


def invitation_link(stack: Stack, address: str) -> str:
    """The link in the invitation TINpass e-mailed to `address` (its outbox directory)."""
    for path in sorted((stack.data_dir / "outbox").glob("*.eml"), key=lambda p: p.stat().st_mtime):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if message["To"] == address:
            body = message.get_body(("plain",))
            assert body is not None
            found = re.search(r"https?://\S+/nominations/accept\?token=\S+", body.get_content())
            if found:
                return found.group(0)
    raise AssertionError(f"TINpass e-mailed no invitation to {address}")


async def operator_pages(page: Page, tour: Tour) -> None:
    issuer = tour.stack.issuer
    await page.goto(issuer + "/login")
    await sign_in(page, "ops.olivia")
    await page.goto(issuer + "/console")
    await tour.check(page, "identity_console_operator_home")
    await page.goto(issuer + "/console/operator")
    await tour.check(page, "identity_console_operator")
    await page.get_by_label("Tax ID to look up").fill("12-3456789")
    await page.get_by_role("button", name="Look up").click()
    await tour.check(page, "identity_console_operator_found")
    await page.get_by_label("Tax ID to look up").fill("12")
    await page.get_by_role("button", name="Look up").click()
    await tour.check(page, "identity_console_operator_not_a_tin")
    await page.goto(issuer + "/console/operator/organizations?q=evergreen")
    await tour.check(page, "identity_operator_organizations")
    await page.goto(issuer + "/console/operator/people?q=12-3456789")
    await tour.check(page, "identity_operator_people")
    await page.goto(issuer + "/console/operator/audit?person=ever.admin")
    await tour.check(page, "identity_operator_audit")


@pytest.fixture(scope="module")
async def tour(two_plans: Stack, browser: Browser) -> Tour:
    """The whole tour, once: each page state checked, problems collected for the tests."""
    tour = Tour(two_plans)
    async with persona(browser, tour, "signed_out") as page:
        await signed_out_pages(page, tour)
    async with persona(browser, tour, "subscriber") as page:
        await subscriber_portal(page, tour)
        await subscriber_account(page, tour)
    async with persona(browser, tour, "administrator") as page:
        await administrator_pages(page, tour)
    async with persona(browser, tour, "operator") as page:
        await operator_pages(page, tour)
    if os.environ.get("TINPASS_UPDATE_SCREENSHOTS") == "1":
        README_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for name, target in FOR_README.items():
            shutil.copyfile(SCREENSHOTS / f"a11y_{name}.png", README_SCREENSHOTS / target)
    return tour


def test_no_serious_accessibility_violation_on_any_page(tour: Tour) -> None:
    assert len(tour.checked) >= 30
    assert not tour.problems.get("axe"), "\n\n".join(tour.problems["axe"])


def test_every_focus_ring_contrasts_at_least_3_to_1(tour: Tour) -> None:
    assert not tour.problems.get("rings"), "\n".join(tour.problems["rings"])


def test_no_page_is_wider_than_a_375_px_phone(tour: Tour) -> None:
    assert not tour.problems.get("width"), "\n".join(tour.problems["width"])


def test_every_html_route_is_visited(tour: Tour) -> None:
    from gateway.portal import auth, pages
    from identity.app import create_app

    routes = {
        "identity": page_checks.get_routes(create_app().routes, "identity.web"),
        "portal": page_checks.get_routes([*auth.router.routes, *pages.router.routes], "gateway"),
    }
    missed = []
    for kind, templates in routes.items():
        known = {t.path for t in templates}
        stale = set(NOT_PAGES[kind]) - known
        assert not stale, f"NOT_PAGES names {kind} routes that no longer exist: {stale}"
        for template in templates:
            if template.path in NOT_PAGES[kind]:
                continue
            if not any(k == kind and template.pattern.match(p) for k, p in tour.visits):
                missed.append(f"{kind} {template.path}")
    assert not missed, "GET routes the tour never visited: " + ", ".join(missed)
