"""Forgot password/username: the same work whatever was typed (a request handed to
the recovery desk, mail sent off the request path), throttled per source address
and per account; mail still reaches a real SMTP server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from identity.recovery_mail import RecoveryDesk, RecoveryRequest
from tests.identity.harness import IdentityHarness, mailing_identity
from tests.identity.web.test_login import post_form
from tests.support.smtp import Inbox

SAM_MAIL = "sam.biller@evergreen.example"


@pytest.fixture(scope="module")
async def limited(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[IdentityHarness, Inbox]]:
    async with mailing_identity(
        tmp_path_factory.mktemp("recovery"),
        recovery_account_rate_limit="2/hour",
        recovery_rate_limit="10/hour",
    ) as (identity, inbox):
        yield identity, inbox


async def ask(browser: httpx.AsyncClient, path: str, **fields: str) -> httpx.Response:
    return await post_form(browser, await browser.get(path), **fields)


async def test_existing_and_unknown_accounts_are_handed_over_alike(
    limited: tuple[IdentityHarness, Inbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    identity, inbox = limited
    desk: RecoveryDesk = identity.app.state.recovery_desk
    handed: list[RecoveryRequest] = []
    submit = desk.submit

    def recording(request: RecoveryRequest) -> None:
        handed.append(request)
        submit(request)

    monkeypatch.setattr(desk, "submit", recording)
    before = len(inbox.messages)
    async with identity.client("10.0.1.1") as browser:
        answers = [
            await ask(browser, "/forgot-password", login="sam.biller"),
            await ask(browser, "/forgot-password", login="nobody.here"),
            await ask(browser, "/forgot-username", email=SAM_MAIL),
            await ask(browser, "/forgot-username", email="stranger@example.org"),
        ]
    await identity.recovery_mail_sent()
    assert {a.status_code for a in answers} == {200}
    assert len({a.text for a in answers}) == 1, "one answer page for all four"
    assert [(r.kind, r.typed) for r in handed] == [
        ("password", "sam.biller"),
        ("password", "nobody.here"),
        ("username", SAM_MAIL),
        ("username", "stranger@example.org"),
    ], "each request, existing account or not, is handed over and nothing else"
    mails = inbox.messages[before:]
    assert [m["To"] for m in mails] == [SAM_MAIL, SAM_MAIL]
    assert {m["Subject"] for m in mails} == {"Reset your TINpass password", "Your TINpass username"}


async def test_mails_per_account_are_limited_and_the_answer_stays_the_same(
    limited: tuple[IdentityHarness, Inbox],
) -> None:
    identity, inbox = limited
    before = len(inbox.to("hana@harborbilling.example"))
    async with identity.client("10.0.1.2") as browser:
        answers = [
            await ask(browser, "/forgot-password", login=login)
            for login in ("hana.harb", "HANA@harborbilling.example", "hana.harb", "Hana.Harb")
        ]
        answers.append(await ask(browser, "/forgot-username", email="hana@harborbilling.example"))
    await identity.recovery_mail_sent()
    assert {a.status_code for a in answers} == {200} and len({a.text for a in answers}) == 1
    assert len(inbox.to("hana@harborbilling.example")) - before == 2, "two mails per hour"


async def test_requests_per_source_address_are_limited(
    limited: tuple[IdentityHarness, Inbox],
) -> None:
    identity, _ = limited
    async with identity.client("10.0.1.3") as browser:
        answers = [await ask(browser, "/forgot-password", login=f"nobody.{n}") for n in range(10)]
        refused = await ask(browser, "/forgot-username", email="someone@example.org")
    await identity.recovery_mail_sent()
    assert {a.status_code for a in answers} == {200}
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    assert "Too many requests" in refused.text
