"""Two-step sign-in on the account page: looking changes nothing; moving it to a new
app or turning it off needs the current factors, recently or given again; a new
secret replaces the old one only once a code from it is confirmed."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pyotp
from sqlalchemy import select, update

from identity import admin_ops
from identity.crypto import seal
from identity.models import AuditEvent, Organization, SsoSession, User
from tests.identity.harness import PASSWORD, PORTAL, PORTAL_REDIRECT, IdentityHarness
from tests.identity.web.test_login import post_form
from tests.support.oidc import Pkce, authorize_url, form_fields, sign_in


async def person_with_mfa(identity: IdentityHarness, username: str) -> pyotp.TOTP:
    """A new subscriber of Evergreen whose two-step sign-in is on (a confirmed secret)."""
    secret = pyotp.random_base32()
    async with identity.session() as session:
        org = await session.scalar(
            select(Organization.id).where(Organization.name == "Evergreen Family Clinic")
        )
        assert org is not None
        user = await admin_ops.create_user(
            session, identity.settings, username, f"{username}@evergreen.example", PASSWORD, "", ""
        )
        await admin_ops.add_membership(session, user.id, org, "subscriber", [], [])
        user.totp_secret_encrypted = seal(identity.settings, "totp", secret.encode(), user.id)
        user.totp_confirmed_at = datetime.now(UTC)
        await session.commit()
    return pyotp.TOTP(secret)


async def fresh_code(identity: IdentityHarness, username: str, totp: pyotp.TOTP) -> str:
    """The current code, made usable again (each time step is accepted only once)."""
    async with identity.session() as session:
        await session.execute(
            update(User).where(User.username == username).values(totp_last_step=None)
        )
        await session.commit()
    return totp.now()


async def log_in(
    identity: IdentityHarness, browser: httpx.AsyncClient, username: str, code: str | None
) -> httpx.Response:
    """Sign in at the portal; `code` answers the second step when one is asked."""
    page = await sign_in(
        browser, authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new()), username, PASSWORD
    )
    if page.status_code == 200 and 'name="code"' in page.text and code is not None:
        return await post_form(browser, page, code=code)
    return page


async def age_sessions(identity: IdentityHarness, username: str, minutes: int = 10) -> None:
    """Make the user's sign-ins older than `mfa_reauth_max_age`."""
    async with identity.session() as session:
        user_id = await session.scalar(select(User.id).where(User.username == username))
        await session.execute(
            update(SsoSession)
            .where(SsoSession.user_id == user_id)
            .values(auth_time=datetime.now(UTC) - timedelta(minutes=minutes))
        )
        await session.commit()


async def user_row(identity: IdentityHarness, username: str) -> User:
    async with identity.session() as session:
        user = await session.scalar(select(User).where(User.username == username))
    assert user is not None
    return user


def secret_on(page: httpx.Response) -> str:
    found = re.search(r'<code id="secret">([A-Z2-7]+)</code>', page.text)
    assert found, page.text
    return found.group(1)


async def test_looking_at_the_mfa_page_keeps_two_step_sign_in_on(
    identity: IdentityHarness,
) -> None:
    totp = await person_with_mfa(identity, "mfa.looker")
    before = await user_row(identity, "mfa.looker")
    async with identity.client() as browser:
        assert (await log_in(identity, browser, "mfa.looker", totp.now())).status_code == 302
        page = await browser.get("/account/mfa")
        assert page.status_code == 200 and 'id="mfa-state">on<' in page.text
        assert 'id="secret"' not in page.text, "no new secret is made by looking"
    after = await user_row(identity, "mfa.looker")
    assert after.mfa_enabled and after.totp_secret_encrypted == before.totp_secret_encrypted
    assert after.totp_pending_secret_encrypted is None
    async with identity.client() as browser:
        step = await log_in(identity, browser, "mfa.looker", None)
        assert step.status_code == 200 and 'name="code"' in step.text, "still asks for the code"
        assert (await post_form(browser, step, code="000000")).status_code == 401 or (
            totp.now() == "000000"
        )


async def test_a_cross_site_get_of_the_old_enrolment_page_changes_nothing(
    identity: IdentityHarness,
) -> None:
    totp = await person_with_mfa(identity, "mfa.linked")
    async with identity.client() as browser:
        await log_in(identity, browser, "mfa.linked", totp.now())
        for path in ("/account/mfa", "/account/mfa/start", "/account/mfa/remove"):
            await browser.get(path)
    assert (await user_row(identity, "mfa.linked")).mfa_enabled


async def test_moving_to_a_new_app_without_recent_authentication_is_refused(
    identity: IdentityHarness,
) -> None:
    totp = await person_with_mfa(identity, "mfa.stale")
    async with identity.client() as browser:
        await log_in(identity, browser, "mfa.stale", totp.now())
        await age_sessions(identity, "mfa.stale")
        page = await browser.get("/account/mfa")
        assert 'name="current"' in page.text and 'name="code"' in page.text
        token = form_fields(page.text)["csrf_token"]
        bare = await browser.post("/account/mfa/start", data={"csrf_token": token})
        assert bare.status_code == 400 and "confirm it is you" in bare.text
        password_only = await browser.post(
            "/account/mfa/start", data={"csrf_token": token, "current": PASSWORD}
        )
        assert password_only.status_code == 400 and 'id="secret"' not in password_only.text
        assert (await user_row(identity, "mfa.stale")).totp_pending_secret_encrypted is None
        code = await fresh_code(identity, "mfa.stale", totp)
        started = await browser.post(
            "/account/mfa/start", data={"csrf_token": token, "current": PASSWORD, "code": code}
        )
        assert started.status_code == 200 and secret_on(started)
    assert (await user_row(identity, "mfa.stale")).totp_pending_secret_encrypted is not None
    async with identity.session() as session:
        failed = await session.scalar(
            select(AuditEvent).where(AuditEvent.event == "mfa.reauthentication_failed")
        )
    assert failed is not None


async def test_a_new_secret_replaces_the_old_only_once_confirmed(
    identity: IdentityHarness,
) -> None:
    old = await person_with_mfa(identity, "mfa.mover")
    async with identity.client() as browser:
        await log_in(identity, browser, "mfa.mover", old.now())
        page = await browser.get("/account/mfa")
        started = await post_form(browser, page)  # a fresh MFA sign-in: no password asked
        new = pyotp.TOTP(secret_on(started))
    async with identity.client() as browser:
        step = await log_in(identity, browser, "mfa.mover", None)
        refused = await post_form(browser, step, code=new.now())
        assert refused.status_code == 401 or new.now() == old.now(), "unconfirmed: not in force"
        signed_in = await post_form(
            browser, refused, code=await fresh_code(identity, "mfa.mover", old)
        )
        assert signed_in.status_code == 302, "the old factor still works"
    async with identity.client() as browser:
        await log_in(identity, browser, "mfa.mover", await fresh_code(identity, "mfa.mover", old))
        started = await post_form(browser, await browser.get("/account/mfa"))
        new = pyotp.TOTP(secret_on(started))
        wrong = await post_form(browser, started, code=old.now())
        assert wrong.status_code == 400 or old.now() == new.now()
        codes = await post_form(browser, wrong, code=new.now())
        assert codes.status_code == 200 and "recovery codes" in codes.text
    async with identity.client() as browser:
        step = await log_in(identity, browser, "mfa.mover", None)
        code = await fresh_code(identity, "mfa.mover", old)
        assert (await post_form(browser, step, code=code)).status_code == 401 or code == new.now()
    async with identity.client() as browser:
        code = await fresh_code(identity, "mfa.mover", new)
        assert (await log_in(identity, browser, "mfa.mover", code)).status_code == 302


async def test_turning_it_off_needs_the_current_factor(identity: IdentityHarness) -> None:
    totp = await person_with_mfa(identity, "mfa.remover")
    async with identity.client() as browser:
        await log_in(identity, browser, "mfa.remover", totp.now())
        await age_sessions(identity, "mfa.remover")
        page = await browser.get("/account/mfa")
        token = form_fields(page.text, 2)["csrf_token"]
        assert form_fields(page.text, 2)["__action__"] == "/account/mfa/remove"
        no_code = await browser.post(
            "/account/mfa/remove", data={"csrf_token": token, "current": PASSWORD}
        )
        assert no_code.status_code == 400
        assert (await user_row(identity, "mfa.remover")).mfa_enabled
        forged = await browser.post(
            "/account/mfa/remove",
            data={"csrf_token": "forged", "current": PASSWORD, "code": totp.now()},
        )
        assert forged.status_code == 303 and (await user_row(identity, "mfa.remover")).mfa_enabled
        code = await fresh_code(identity, "mfa.remover", totp)
        off = await browser.post(
            "/account/mfa/remove", data={"csrf_token": token, "current": PASSWORD, "code": code}
        )
        assert off.status_code == 200 and "Two-step sign-in is off" in off.text
    user = await user_row(identity, "mfa.remover")
    assert not user.mfa_enabled and user.totp_secret_encrypted is None
    async with identity.client() as browser:
        assert (await log_in(identity, browser, "mfa.remover", None)).status_code == 302


async def test_a_recent_password_only_sign_in_cannot_turn_it_off(
    identity: IdentityHarness,
) -> None:
    totp = await person_with_mfa(identity, "mfa.pwdonly")
    async with identity.client() as browser:
        await log_in(identity, browser, "mfa.pwdonly", totp.now())
        async with identity.session() as session:
            await session.execute(
                update(SsoSession)
                .where(SsoSession.user_id == (await user_row(identity, "mfa.pwdonly")).id)
                .values(acr="urn:tinpass:acr:pwd", amr=["pwd"])
            )
            await session.commit()
        page = await browser.get("/account/mfa")
        assert 'name="code"' in page.text, "a password-only sign-in is not the current factor"
        refused = await browser.post(
            "/account/mfa/remove",
            data={"csrf_token": form_fields(page.text)["csrf_token"], "current": PASSWORD},
        )
    assert refused.status_code == 400 and (await user_row(identity, "mfa.pwdonly")).mfa_enabled


async def test_an_organization_that_requires_it_keeps_it_on(identity: IdentityHarness) -> None:
    totp = await person_with_mfa(identity, "mfa.required")
    async with identity.session() as session:
        org = await session.scalar(
            select(Organization).where(Organization.name == "Evergreen Family Clinic")
        )
        assert org is not None
        org.mfa_required = True
        await session.commit()
    try:
        async with identity.client() as browser:
            await log_in(identity, browser, "mfa.required", totp.now())
            page = await browser.get("/account/mfa")
            remove = form_fields(page.text, 2)
            assert remove.pop("__action__") == "/account/mfa/remove"
            refused = await browser.post("/account/mfa/remove", data=remove)
    finally:
        async with identity.session() as session:
            await session.execute(
                update(Organization)
                .where(Organization.name == "Evergreen Family Clinic")
                .values(mfa_required=False)
            )
            await session.commit()
    assert refused.status_code == 409 and "requires two-step sign-in" in refused.text
    assert (await user_row(identity, "mfa.required")).mfa_enabled
