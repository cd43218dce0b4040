"""Logging in: lockout, enumeration safety, throttling, MFA, recovery codes, step-up."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pyotp
import pytest
from sqlalchemy import select, update

from identity import security
from identity.models import AuditEvent, Organization, User
from tests.identity.harness import (
    PASSWORD,
    PORTAL,
    PORTAL_REDIRECT,
    IdentityHarness,
    running_identity,
)
from tests.support.oidc import Pkce, authorize_url, form_fields, jwt_claims, query_of, sign_in
from tests.support.redis import require_redis


def error_of(page: httpx.Response) -> str:
    found = re.search(r'<p class="error"[^>]*>(.*?)</p>', page.text, re.S)
    assert found, page.text
    return found.group(1)


async def post_form(
    browser: httpx.AsyncClient, page: httpx.Response, **values: str
) -> httpx.Response:
    fields = form_fields(page.text)
    action = fields.pop("__action__")
    fields.update(values)
    return await browser.post(page.url.join(action), data=fields)


async def set_user(identity: IdentityHarness, username: str, **values: object) -> None:
    async with identity.session() as session:
        await session.execute(update(User).where(User.username == username).values(**values))
        await session.commit()


async def events(identity: IdentityHarness, name: str) -> list[AuditEvent]:
    async with identity.session() as session:
        return list(await session.scalars(select(AuditEvent).where(AuditEvent.event == name)))


async def test_lockout_after_five_failures_then_unlock_by_time(identity: IdentityHarness) -> None:
    url = authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new())
    async with identity.client() as browser:
        for _ in range(5):
            failed = await sign_in(
                browser, url, "ever.admin", "wrong-password-123"
            )  # no code issued
            assert failed.status_code == 401
        locked = await sign_in(browser, url, "ever.admin", PASSWORD)
        unknown = await sign_in(browser, url, "no.such.user", PASSWORD)
        assert locked.status_code == unknown.status_code == 401
        assert error_of(locked) == error_of(unknown) == error_of(failed), (
            "no enumeration through lockout"
        )
        assert await events(identity, "account.locked")
        await set_user(
            identity, "ever.admin", locked_until=datetime.now(UTC) - timedelta(seconds=1)
        )
        after = await sign_in(browser, url, "ever.admin", PASSWORD)
    assert after.status_code == 302 and "code" in query_of(after.headers["location"])


async def test_lock_duration_grows_with_repeats(identity: IdentityHarness) -> None:
    url = authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new())
    async with identity.client() as browser:
        durations = []
        for _ in range(2):
            for _ in range(5):
                await sign_in(browser, url, "hana.harb", "wrong-password-123")
            async with identity.session() as session:
                user = await session.scalar(select(User).where(User.username == "hana.harb"))
                assert user is not None and user.locked_until is not None
                durations.append((user.locked_until - datetime.now(UTC)).total_seconds())
            await set_user(
                identity, "hana.harb", locked_until=datetime.now(UTC) - timedelta(seconds=1)
            )
    assert 250 < durations[0] <= 300 and 550 < durations[1] <= 600
    await set_user(identity, "hana.harb", lockouts=0, failed_logins=0)


async def test_unknown_users_cost_a_password_hash_too(
    identity: IdentityHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No timing here (timed tests flake on a busy machine): an unknown username costs
    the same argon2id verification as a known one with a wrong password."""
    context = security.pwd_context
    hashes: list[str] = []

    def counting(method: Callable[..., Any]) -> Callable[..., Any]:
        def call(secret: str, hashed: str, *args: Any, **kwargs: Any) -> Any:
            hashes.append(context.identify(hashed) or "")
            return method(secret, hashed, *args, **kwargs)

        return call

    monkeypatch.setattr(context, "verify", counting(context.verify))
    monkeypatch.setattr(context, "verify_and_update", counting(context.verify_and_update))
    url = authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new())
    async with identity.client() as browser:
        page = await browser.get(url)
        await post_form(browser, page, username="sam.biller", password="not-it-at-all-1")
        known = list(hashes)
        hashes.clear()
        await post_form(browser, page, username="nobody.at.all", password="not-it-at-all-1")
        unknown = list(hashes)
    await set_user(identity, "sam.biller", failed_logins=0)
    assert known == ["argon2"]
    assert unknown == known


@pytest.fixture(scope="module")
async def throttled(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[IdentityHarness]:
    async with running_identity(
        tmp_path_factory.mktemp("throttled"), login_rate_limit="3/minute"
    ) as harness:
        yield harness


async def test_login_is_throttled_per_address(throttled: IdentityHarness) -> None:
    url = authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new())
    async with throttled.client() as browser:
        page = await browser.get(url)
        answers = [
            await post_form(browser, page, username="x.y.z", password="wrong-pass-1234")
            for _ in range(4)
        ]
    assert [a.status_code for a in answers] == [401, 401, 401, 429]
    assert int(answers[3].headers["retry-after"]) > 0
    assert "Too many sign-in attempts" in error_of(answers[3])


async def test_two_instances_share_a_redis_counter(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    redis_url = await require_redis()
    options = {"login_rate_limit": "4/minute", "rate_limit_storage": redis_url}
    async with (
        running_identity(tmp_path_factory.mktemp("r1"), **options) as one,
        running_identity(tmp_path_factory.mktemp("r2"), **options) as two,
    ):
        await one.app.state.throttle.reset()
        statuses = []
        for instance in (one, two, one, two, one):
            async with instance.client() as browser:
                page = await browser.get(authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new()))
                statuses.append(
                    (
                        await post_form(browser, page, username="a.b.c", password="wrong-pass-1234")
                    ).status_code
                )
        await one.app.state.throttle.reset()
    assert statuses == [401, 401, 401, 401, 429]


def secret_on(page: httpx.Response) -> str:
    found = re.search(r'<code id="secret">([A-Z2-7]+)</code>', page.text)
    assert found, page.text
    return found.group(1)


async def test_required_mfa_enrollment_codes_replay_and_recovery(identity: IdentityHarness) -> None:
    async with identity.session() as session:
        await session.execute(
            update(Organization)
            .where(Organization.name == "Harbor Billing Services")
            .values(mfa_required=True)
        )
        await session.commit()
    async with identity.client() as browser:
        enroll = await sign_in(
            browser, authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new()), "hana.harb", PASSWORD
        )
        assert enroll.status_code == 200 and "Set up two-step sign-in" in enroll.text
        assert 'src="data:image/svg+xml;base64,' in enroll.text
        totp = pyotp.TOTP(secret_on(enroll))
        wrong = await post_form(
            browser, enroll, code="000000" if totp.now() != "000000" else "111111"
        )
        assert wrong.status_code == 400
        used = totp.now()
        recovery = await post_form(browser, wrong, code=used)
        codes = re.findall(r"<li><code>([0-9a-f]{5}-[0-9a-f]{5})</code></li>", recovery.text)
        assert len(codes) == 10
        done = await post_form(browser, recovery)
    assert done.status_code == 302
    async with identity.client() as browser:
        step = await sign_in(
            browser, authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new()), "hana.harb", PASSWORD
        )
        assert "Two-step sign-in" in step.text, (step.status_code, step.headers.get("location"))
        replay = await post_form(browser, step, code=used)
        assert replay.status_code == 401, "a code is accepted only once"
        fresh = await post_form(browser, replay, code=totp.at(time.time() + 30))
        assert fresh.status_code == 302
    async with identity.client() as browser:
        step = await sign_in(
            browser, authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new()), "hana.harb", PASSWORD
        )
        assert (await post_form(browser, step, code=codes[0])).status_code == 302
    async with identity.client() as browser:
        step = await sign_in(
            browser, authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new()), "hana.harb", PASSWORD
        )
        again = await post_form(browser, step, code=codes[0])
    assert again.status_code == 401, "a recovery code works once"


async def test_step_up_with_acr_values(identity: IdentityHarness) -> None:
    async with identity.client() as browser:
        first = await sign_in(
            browser, authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new()), "sam.biller", PASSWORD
        )
        assert first.status_code == 302
        pkce = Pkce.new()
        step_up = await browser.get(
            authorize_url(PORTAL, PORTAL_REDIRECT, pkce, acr_values="urn:tinpass:acr:mfa")
        )
        assert 'name="password"' in step_up.text, "a password-only session must log in again"
        enroll = await post_form(browser, step_up, username="sam.biller", password=PASSWORD)
        recovery = await post_form(browser, enroll, code=pyotp.TOTP(secret_on(enroll)).now())
        done = await post_form(browser, recovery)
        assert done.status_code == 302
        token = await browser.post(
            "/token",
            data={
                "grant_type": "authorization_code",
                "code": query_of(done.headers["location"])["code"],
                "redirect_uri": PORTAL_REDIRECT,
                "code_verifier": pkce.verifier,
            },
            auth=(PORTAL, identity.credentials.portal_secret),
        )
        mfa_session = await browser.get(
            authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new(), acr_values="urn:tinpass:acr:mfa")
        )
    claims = jwt_claims(token.json()["id_token"])
    assert claims["acr"] == "urn:tinpass:acr:mfa" and claims["amr"] == ["pwd", "otp"]
    assert mfa_session.status_code == 302, (
        "an MFA session satisfies the step-up without a new login"
    )


async def test_step_up_with_prompt_none_is_login_required(identity: IdentityHarness) -> None:
    async with identity.client() as browser:
        await sign_in(
            browser, authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new()), "ever.admin", PASSWORD
        )
        response = await browser.get(
            authorize_url(
                PORTAL, PORTAL_REDIRECT, Pkce.new(), acr_values="urn:tinpass:acr:mfa", prompt="none"
            )
        )
    assert response.status_code == 302
    assert query_of(response.headers["location"])["error"] == "login_required"


async def test_a_ticket_from_another_browser_is_worthless(identity: IdentityHarness) -> None:
    async with identity.client() as browser, identity.client() as thief:
        await set_user(identity, "ever.admin", locked_until=None, failed_logins=0)
        enroll = await sign_in(
            browser,
            authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new(), acr_values="mfa"),
            "ever.admin",
            PASSWORD,
        )
        fields = form_fields(enroll.text)
        fields.pop("__action__")
        stolen = await thief.post(
            "/login/enroll", data={**fields, "code": pyotp.TOTP(secret_on(enroll)).now()}
        )
    assert stolen.status_code == 400
    assert "form expired" in stolen.text
