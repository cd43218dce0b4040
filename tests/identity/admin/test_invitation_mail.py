"""Tenant-chosen text never reaches a mail subject; in a body it is quoted and
labelled. Invitations (nominations and resends) are limited per organization and
per invited address: 429 problem with Retry-After on the API, an error in the console."""

from __future__ import annotations

import ast
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

import identity
from identity.models import Organization
from tests.identity.admin_flows import admin_token, bearer, org_id_of
from tests.identity.harness import PASSWORD, IdentityHarness, mailing_identity
from tests.support.oidc import submit_login
from tests.support.smtp import Inbox

EVERGREEN = "Evergreen Family Clinic"
PHISHING = "URGENT: your TINpass account is locked - call 555-0100 now\r\nBcc: x@evil.example"


@pytest.fixture
async def limited(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[IdentityHarness, Inbox]]:
    """A service of its own per test: the organization's counter starts at zero."""
    async with mailing_identity(
        tmp_path_factory.mktemp("invites"),
        invitation_rate_limit_per_address="2/hour",
        invitation_rate_limit_per_organization="4/hour",
    ) as (harness, inbox):
        yield harness, inbox


async def nominate(api: httpx.AsyncClient, org: str, email: str) -> httpx.Response:
    return await api.post(f"/api/v1/organizations/{org}/nominations", json={"email": email})


async def test_a_crafted_organization_name_stays_out_of_the_subject(
    limited: tuple[IdentityHarness, Inbox],
) -> None:
    harness, inbox = limited
    org = await org_id_of(harness, EVERGREEN)
    async with harness.session() as session:
        await session.execute(
            update(Organization).where(Organization.id == org).values(name=PHISHING)
        )
        await session.commit()
    try:
        token = await admin_token(harness, "ever.admin")
        async with harness.client(headers=bearer(token)) as api:
            made = await nominate(api, org, "quinn@example.org")
    finally:
        async with harness.session() as session:
            await session.execute(
                update(Organization).where(Organization.id == org).values(name=EVERGREEN)
            )
            await session.commit()
    assert made.status_code == 201, made.text
    message = inbox.to("quinn@example.org")[-1]
    body = inbox.body(message)
    assert message["Subject"] == "You are invited to TINpass"
    assert message["Bcc"] is None
    assert (
        "as the organization gave it: “URGENT: your TINpass account is locked - call 555-0100 now "
        "Bcc: x@evil.example”" in body
    )
    assert "\nBcc:" not in body, "the name stays on its one quoted line"


async def test_invitations_are_limited_per_address_and_per_organization(
    limited: tuple[IdentityHarness, Inbox],
) -> None:
    harness, inbox = limited
    org = await org_id_of(harness, EVERGREEN)
    token = await admin_token(harness, "ever.admin")
    async with harness.client(headers=bearer(token)) as api:
        first = await nominate(api, org, "rita@example.org")
        resent = await api.post(
            f"/api/v1/organizations/{org}/nominations/{first.json()['id']}/resend"
        )
        third = await api.post(
            f"/api/v1/organizations/{org}/nominations/{first.json()['id']}/resend"
        )
        others = [await nominate(api, org, f"person{n}@example.org") for n in range(3)]
    assert (first.status_code, resent.status_code) == (201, 200)
    assert third.status_code == 429 and int(third.headers["retry-after"]) > 0
    assert third.headers["content-type"] == "application/problem+json"
    assert third.json()["type"].endswith("too-many-invitations")
    assert "this address" in third.json()["detail"]
    assert [o.status_code for o in others] == [201, 201, 429], "four per organization"
    assert "this organization" in others[2].json()["detail"]
    assert len(inbox.to("rita@example.org")) == 2 and not inbox.to("person2@example.org")


async def test_the_console_shows_the_invitation_limit_as_an_error(
    limited: tuple[IdentityHarness, Inbox],
) -> None:
    harness, inbox = limited
    org = await org_id_of(harness, EVERGREEN)
    async with harness.client() as browser:
        await submit_login(browser, await browser.get("/login"), "ever.admin", PASSWORD)
        answers = []
        for _ in range(3):
            page = await browser.get(f"/console/orgs/{org}")
            found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert found
            answers.append(
                await browser.post(
                    f"/console/orgs/{org}/nominations",
                    data={"csrf_token": found.group(1), "email": "sol@example.org"},
                )
            )
    assert [a.status_code for a in answers] == [303, 303, 429]
    assert "Too many invitations for this address" in answers[2].text
    assert len(inbox.to("sol@example.org")) == 2


def test_no_mail_subject_is_built_from_data() -> None:
    """Every subject handed to a mailer is fixed text (a string literal)."""
    package = Path(identity.__file__).parent
    built: list[str] = []
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "send"
                and "mailer" in ast.unparse(node.func.value)
                and not (
                    len(node.args) >= 2
                    and isinstance(node.args[1], ast.Constant)
                    and isinstance(node.args[1].value, str)
                )
            ):
                built.append(f"{path.name}:{node.lineno}")
    assert built == []
