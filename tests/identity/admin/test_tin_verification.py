"""A TIN is usable only once an operator verified it: asked with evidence, decided with
a reason, revoked later; the organization's administrators are told by mail."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select

from identity.admin_ops import API_SCOPE
from identity.models import AuditEvent, Client, Membership, TaxId
from tests.identity.admin_flows import (
    EVIDENCE,
    admin_token,
    bearer,
    operator_decides,
    org_id_of,
    user_id_of,
)
from tests.identity.flows import portal_tokens
from tests.identity.harness import PORTAL, IdentityHarness
from tests.identity.web.test_console import signed_in
from tests.support.oidc import jwt_claims
from tests.support.smtp import Inbox

EVERGREEN = "Evergreen Family Clinic"


async def curl_tins(identity: IdentityHarness) -> list[str]:
    """The TINs in a fresh client-credentials token of Evergreen's integrator client."""
    async with identity.client() as client:
        token = await client.post(
            "/token",
            data={"grant_type": "client_credentials", "scope": API_SCOPE},
            auth=("acme-curl", identity.credentials.curl_secret),
        )
    assert token.status_code == 200, token.text
    return list(jwt_claims(token.json()["access_token"]).get("tax_ids") or [])


async def test_an_unheld_tin_reaches_no_token_until_an_operator_verifies_it(
    mailing: tuple[IdentityHarness, Inbox],
) -> None:
    """The critical hole: an administrator adds a TIN nobody holds and grants it to
    themselves. Now it waits, and no token carries it until an operator approves."""
    identity, inbox = mailing
    org = await org_id_of(identity, EVERGREEN)
    admin_id = await user_id_of(identity, "ever.admin")
    api = identity.client(headers=bearer(await admin_token(identity, "ever.admin")))
    async with api:
        asked = await api.post(
            f"/api/v1/organizations/{org}/tax-ids", json={"tin": "31-4159265", **EVIDENCE}
        )
        granted = await api.patch(
            f"/api/v1/organizations/{org}/members/{admin_id}",
            json={"tax_ids": ["123456789", "314159265"]},
        )
        client = await api.patch(
            f"/api/v1/organizations/{org}/clients/acme-curl", json={"tax_ids": ["314159265"]}
        )
    assert asked.status_code == 202 and asked.json()["status"] == "pending_verification"
    assert granted.status_code == 422 and client.status_code == 422
    before = jwt_claims((await portal_tokens(identity, "ever.admin"))["access_token"])
    assert "314159265" not in before["tax_ids"]

    decided = await operator_decides(identity, org, "314159265")
    assert decided["status"] == "active" and decided["decided_at"]
    after = jwt_claims((await portal_tokens(identity, "ever.admin"))["access_token"])
    assert "314159265" in after["tax_ids"], "the administrator who asked may act for it now"
    told = inbox.to("eve.admin@evergreen.example")[-1]
    assert told["Subject"] == "A Tax ID was verified on TINpass"
    assert "31-4159265" in inbox.body(told) and EVERGREEN in inbox.body(told)


async def test_a_rejection_needs_a_reason_and_the_tin_may_be_asked_for_again(
    mailing: tuple[IdentityHarness, Inbox],
) -> None:
    identity, inbox = mailing
    org = await org_id_of(identity, EVERGREEN)
    tins = f"/api/v1/organizations/{org}/tax-ids"
    async with identity.client(headers=bearer(await admin_token(identity, "ever.admin"))) as api:
        await api.post(tins, json={"tin": "27-1828182", **EVIDENCE})
        operator = bearer(await admin_token(identity, "ops.olivia"))
        async with identity.client(headers=operator) as ops:
            waiting = (await ops.get("/api/v1/operator/tax-id-requests")).json()["requests"]
            request_id = next(r["id"] for r in waiting if r["tin"] == "27-1828182")
            silent = await ops.post(f"/api/v1/operator/tax-id-requests/{request_id}/reject")
        decided = await operator_decides(
            identity, org, "271828182", "reject", "The IRS letter names another practice."
        )
        listed = {t["tin"]: t for t in (await api.get(tins)).json()["tax_ids"]}
        again = await api.post(tins, json={"tin": "27-1828182", **EVIDENCE})
        twice = await api.post(tins, json={"tin": "27-1828182", **EVIDENCE})
    assert silent.status_code == 422 and silent.json()["field"] == "reason"
    assert decided["status"] == "rejected"
    assert decided["decision_reason"] == "The IRS letter names another practice."
    assert listed["27-1828182"]["status"] == "rejected"
    assert listed["27-1828182"]["reason"] == "The IRS letter names another practice."
    told = inbox.to("eve.admin@evergreen.example")[-1]
    assert told["Subject"] == "A Tax ID was not accepted on TINpass"
    assert "The IRS letter names another practice." in inbox.body(told)
    assert again.status_code == 202 and again.json()["status"] == "pending_verification"
    assert twice.status_code == 409 and twice.json()["type"].endswith("tin-exists")


async def test_revocation_ends_grants_and_the_next_tokens_no_longer_carry_it(
    mailing: tuple[IdentityHarness, Inbox],
) -> None:
    identity, inbox = mailing
    org = await org_id_of(identity, EVERGREEN)
    before = await portal_tokens(identity, "ever.admin")
    assert "987654321" in jwt_claims(before["access_token"])["tax_ids"]
    assert "987654321" in await curl_tins(identity)
    operator = bearer(await admin_token(identity, "ops.olivia"))
    async with identity.client(headers=operator) as ops:
        found = (await ops.get("/api/v1/operator/tax-ids", params={"tin": "98-7654321"})).json()
        [row] = found["tax_ids"]
        assert row["status"] == "active" and row["organization"]["id"] == org
        silent = await ops.post(f"/api/v1/operator/tax-ids/{row['id']}/revoke", json={})
        revoked = await ops.post(
            f"/api/v1/operator/tax-ids/{row['id']}/revoke",
            json={"reason": "The IRS confirmed the TIN belongs to another practice."},
        )
        again = await ops.post(
            f"/api/v1/operator/tax-ids/{row['id']}/revoke", json={"reason": "twice"}
        )
    assert silent.status_code == 422
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert again.status_code == 404, "only a verified TIN can be revoked"

    fresh = jwt_claims((await portal_tokens(identity, "ever.admin"))["access_token"])
    assert "987654321" not in fresh["tax_ids"] and "123456789" in fresh["tax_ids"]
    async with identity.client() as client:
        refreshed = await client.post(
            "/token",
            data={"grant_type": "refresh_token", "refresh_token": before["refresh_token"]},
            auth=(PORTAL, identity.credentials.portal_secret),
        )
    assert refreshed.status_code == 200, refreshed.text
    assert "987654321" not in jwt_claims(refreshed.json()["access_token"])["tax_ids"]
    assert await curl_tins(identity) == ["123456789"]
    async with identity.session() as session:
        grants = await session.scalars(
            select(TaxId.tin)
            .join(Membership.tax_ids)
            .where(TaxId.tin == "987654321", Membership.organization_id == org)
        )
        client_grants = await session.scalars(
            select(TaxId.tin).join(Client.tax_ids).where(TaxId.tin == "987654321")
        )
        event = await session.scalar(select(AuditEvent).where(AuditEvent.event == "tax_id.revoked"))
        stored = await session.scalar(select(TaxId).where(TaxId.tin == "987654321"))
    assert list(grants) == [] and list(client_grants) == []
    assert event is not None and event.actor_id == await user_id_of(identity, "ops.olivia")
    assert stored is not None and stored.revoked_by == event.actor_id
    assert stored.revocation_reason == "The IRS confirmed the TIN belongs to another practice."
    told = inbox.to("eve.admin@evergreen.example")[-1]
    assert told["Subject"] == "A Tax ID was revoked on TINpass"
    assert "another practice" in inbox.body(told)


async def csrf_of(browser: httpx.AsyncClient, path: str) -> str:
    page = await browser.get(path)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


async def test_the_operator_console_shows_the_evidence_and_decides(
    mailing: tuple[IdentityHarness, Inbox],
) -> None:
    identity, _ = mailing
    org = await org_id_of(identity, EVERGREEN)
    async with signed_in(identity, "ever.admin") as admin:
        for tin in ("16-1803398", "14-1421356"):
            token = await csrf_of(admin, f"/console/orgs/{org}")
            added = await admin.post(
                f"/console/orgs/{org}/tax-ids",
                data={"csrf_token": token, "tin": tin, "attest": "yes", **_name()},
            )
            assert added.status_code == 303
    async with identity.session() as session:
        ids = {
            t.tin: t.id
            for t in await session.scalars(
                select(TaxId).where(TaxId.tin.in_(["161803398", "141421356"]))
            )
        }
    async with signed_in(identity, "ops.olivia") as operator:
        queue = await operator.get("/console/operator")
        token = await csrf_of(operator, "/console/operator")
        approve = await operator.post(
            f"/console/operator/tax-ids/{ids['161803398']}/approve", data={"csrf_token": token}
        )
        replayed = await operator.post(  # each decision's form token works once
            f"/console/operator/tax-ids/{ids['141421356']}/reject",
            data={"csrf_token": token, "reason": "Not this practice's TIN."},
        )
        reject = await operator.post(
            f"/console/operator/tax-ids/{ids['141421356']}/reject",
            data={
                "csrf_token": await csrf_of(operator, "/console/operator"),
                "reason": "Not this practice's TIN.",
            },
        )
        found = await operator.get("/console/operator", params={"tin": "16-1803398"})
        revoke = await operator.post(
            f"/console/operator/tax-ids/{ids['161803398']}/revoke",
            data={
                "csrf_token": await csrf_of(operator, "/console/operator"),
                "reason": "Ownership ended.",
            },
        )
    assert replayed.status_code == 409 and "already sent" in replayed.text
    assert queue.status_code == 200
    for shown in ("16-1803398", "Evergreen Family Clinic PLLC", "I attest that", "ever.admin"):
        assert shown in queue.text, shown
    assert approve.status_code == reject.status_code == revoke.status_code == 303
    assert revoke.headers["location"].endswith("done=revoked")
    assert "Revoke Tax ID 16-1803398 of Evergreen Family Clinic" in found.text
    async with identity.session() as session:
        rows = {
            t.tin: (t.status, t.decision_reason, t.revocation_reason)
            for t in await session.scalars(select(TaxId).where(TaxId.id.in_(ids.values())))
        }
    assert rows == {
        "161803398": ("revoked", None, "Ownership ended."),
        "141421356": ("rejected", "Not this practice's TIN.", None),
    }
    async with signed_in(identity, "ever.admin") as admin:
        page = await admin.get(f"/console/orgs/{org}")
    assert "not accepted</strong>: Not this practice" in page.text
    assert "revoked</strong>: Ownership ended." in page.text


def _name() -> dict[str, str]:
    return {"legal_name": str(EVIDENCE["legal_name"])}


async def test_the_demo_tins_are_verified_by_the_demo_operator(
    mailing: tuple[IdentityHarness, Inbox],
) -> None:
    identity, _ = mailing
    olivia = await user_id_of(identity, "ops.olivia")
    async with identity.session() as session:
        rows = await session.scalars(select(TaxId).where(TaxId.tin.in_(["123456789", "555000111"])))
        seeded = {(t.tin, t.status, t.decided_by, bool(t.legal_name)) for t in rows}
    assert seeded == {("123456789", "active", olivia, True), ("555000111", "active", olivia, True)}
