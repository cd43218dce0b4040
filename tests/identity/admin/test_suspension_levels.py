"""Suspensions carry who made them and at which level: an organization's
administrator cannot lift a suspension made by a TINpass operator (operator API or
`identity suspend`), in the admin API or the console, and the console does not offer
it; an operator lifts any suspension; an administrator lifts their own level's."""

from __future__ import annotations

import re

import anyio.to_thread
import pytest
from sqlalchemy import select

from identity import cli
from identity.models import AuditEvent, User
from tests.identity.admin_flows import admin_token, bearer, org_id_of, user_id_of
from tests.identity.harness import IdentityHarness
from tests.identity.web.test_console import EVERGREEN, csrf_of, signed_in


async def account(identity: IdentityHarness, username: str) -> User:
    async with identity.session() as session:
        user = await session.scalar(select(User).where(User.username == username))
    assert user is not None
    return user


def reactivate_offered(page: str, user_id: str) -> bool:
    return (
        re.search(rf'action="/console/orgs/[^"]+/members/{user_id}/reactivate"', page) is not None
    )


async def test_an_operators_suspension_outranks_the_organizations_administrator(
    identity: IdentityHarness,
) -> None:
    org, sam = await org_id_of(identity, EVERGREEN), await user_id_of(identity, "sam.biller")
    admin = bearer(await admin_token(identity, "ever.admin"))
    operator = bearer(await admin_token(identity, "ops.olivia"))
    async with identity.client(headers=operator) as api:
        suspended = await api.post(f"/api/v1/operator/users/{sam}/suspend")
    assert suspended.status_code == 200, suspended.text
    assert suspended.json() == {"status": "suspended", "suspension_level": "operator"}
    held = await account(identity, "sam.biller")
    assert held.suspended_by == await user_id_of(identity, "ops.olivia")
    assert held.suspended_at is not None
    async with identity.client(headers=admin) as api:
        lifted = await api.post(f"/api/v1/organizations/{org}/members/{sam}/reactivate")
        resuspended = await api.post(f"/api/v1/organizations/{org}/members/{sam}/suspend")
        again = await api.post(f"/api/v1/organizations/{org}/members/{sam}/reactivate")
    assert lifted.status_code == 403, lifted.text
    assert lifted.headers["content-type"].startswith("application/problem+json")
    assert "only they can reactivate" in lifted.json()["detail"]
    assert resuspended.status_code == 200 and again.status_code == 403, (
        "suspending again at organization level does not lower the operator's suspension"
    )
    assert (await account(identity, "sam.biller")).suspension_level == "operator"
    async with signed_in(identity, "ever.admin") as browser:
        page = await browser.get(f"/console/orgs/{org}")
        assert not reactivate_offered(page.text, sam), "the console does not offer it"
        assert "suspended by TINpass operators" in page.text
        forced = await browser.post(
            f"/console/orgs/{org}/members/{sam}/reactivate",
            data={"csrf_token": await csrf_of(browser, f"/console/orgs/{org}")},
        )
    assert forced.status_code == 403 and "only they can reactivate" in forced.text
    assert (await account(identity, "sam.biller")).status == "suspended"
    async with identity.client(headers=operator) as api:
        back = await api.post(f"/api/v1/operator/users/{sam}/reactivate")
    assert back.json() == {"status": "active", "suspension_level": None}
    async with identity.session() as session:
        events = list(
            await session.scalars(
                select(AuditEvent).where(
                    AuditEvent.event.in_(["user.suspended", "user.reactivated"]),
                    AuditEvent.target_id == sam,
                )
            )
        )
    recorded = [(e.event, e.actor_id, e.details["after"]) for e in events]
    olivia = await user_id_of(identity, "ops.olivia")
    assert ("user.suspended", olivia, {"status": "suspended", "level": "operator"}) in recorded
    assert ("user.reactivated", olivia, {"status": "active", "level": None}) in recorded


async def test_the_administrator_lifts_their_own_suspension_and_the_console_offers_it(
    identity: IdentityHarness,
) -> None:
    org, sam = await org_id_of(identity, EVERGREEN), await user_id_of(identity, "sam.biller")
    async with signed_in(identity, "ever.admin") as browser:
        page = await browser.get(f"/console/orgs/{org}")
        assert not reactivate_offered(page.text, sam), "an active account is not reactivated"
        token = await csrf_of(browser, f"/console/orgs/{org}/members/{sam}/suspend")
        done = await browser.post(
            f"/console/orgs/{org}/members/{sam}/suspend", data={"csrf_token": token}
        )
        assert done.status_code == 303
        assert (await account(identity, "sam.biller")).suspension_level == "organization"
        page = await browser.get(f"/console/orgs/{org}")
        assert reactivate_offered(page.text, sam)
        token = await csrf_of(browser, f"/console/orgs/{org}")
        back = await browser.post(
            f"/console/orgs/{org}/members/{sam}/reactivate", data={"csrf_token": token}
        )
    assert back.status_code == 303 and back.headers["location"].endswith("done=reactivated")
    user = await account(identity, "sam.biller")
    assert user.status == "active" and user.suspension_level is None


async def test_a_suspension_from_the_command_line_is_operator_level(
    identity: IdentityHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", identity.settings.database_url)
    org, sam = await org_id_of(identity, EVERGREEN), await user_id_of(identity, "sam.biller")
    assert await anyio.to_thread.run_sync(cli.main, ["suspend", "sam.biller"]) == 0
    held = await account(identity, "sam.biller")
    assert (held.status, held.suspension_level, held.suspended_by) == (
        "suspended",
        "operator",
        "cli",
    )
    async with identity.client(headers=bearer(await admin_token(identity, "ever.admin"))) as api:
        refused = await api.post(f"/api/v1/organizations/{org}/members/{sam}/reactivate")
    assert refused.status_code == 403
    assert await anyio.to_thread.run_sync(cli.main, ["reactivate", "sam.biller"]) == 0
    assert (await account(identity, "sam.biller")).status == "active"
