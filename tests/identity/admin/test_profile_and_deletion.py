"""Editing the organization's profile, and deleting a subscriber: their sessions end,
their refresh tokens are revoked at once, and an account that belongs nowhere else
is closed. Both are in the audit trail with before and after."""

from __future__ import annotations

from sqlalchemy import select

from identity.models import AuditEvent, User
from tests.identity.admin_flows import admin_token, bearer, org_id_of, user_id_of
from tests.identity.flows import portal_sign_in, portal_tokens
from tests.identity.harness import IdentityHarness

EVERGREEN = "Evergreen Family Clinic"


async def test_the_profile_changes_field_by_field_with_clear_errors(
    identity: IdentityHarness,
) -> None:
    token, org = await admin_token(identity, "ever.admin"), await org_id_of(identity, EVERGREEN)
    async with identity.client(headers=bearer(token)) as api:
        changed = await api.patch(
            f"/api/v1/organizations/{org}",
            json={"street": "9 Cedar St", "state": "or", "npis": ["1234567893"]},
        )
        bad = await api.patch(
            f"/api/v1/organizations/{org}", json={"state": "Oregon", "npis": ["1234567890"]}
        )
        shown = await api.get(f"/api/v1/organizations/{org}")
    assert changed.status_code == 200, changed.text
    assert changed.json()["address"]["street"] == "9 Cedar St"
    assert changed.json()["address"]["state"] == "OR" and changed.json()["npis"] == ["1234567893"]
    assert bad.status_code == 422 and set(bad.json()["errors"]) == {"state", "npis"}
    assert shown.json()["address"]["state"] == "OR", "a refused change changes nothing"
    async with identity.session() as session:
        event = await session.scalar(
            select(AuditEvent)
            .where(AuditEvent.event == "organization.changed")
            .order_by(AuditEvent.id.desc())
        )
    assert event is not None and event.details["after"]["street"] == "9 Cedar St"
    assert event.details["before"]["state"] == "" and event.details["after"]["state"] == "OR"


async def test_deleting_a_subscriber_ends_everything_at_once(identity: IdentityHarness) -> None:
    token, org = await admin_token(identity, "ever.admin"), await org_id_of(identity, EVERGREEN)
    sam = await user_id_of(identity, "sam.biller")
    tokens = await portal_tokens(identity, "sam.biller")
    async with identity.client(headers=bearer(token)) as api:
        deleted = await api.delete(f"/api/v1/organizations/{org}/members/{sam}")
        gone = await api.get(f"/api/v1/organizations/{org}/members")
    assert deleted.status_code == 204
    assert sam not in {m["user_id"] for m in gone.json()["members"]}
    async with identity.client() as client:
        refresh = await client.post(
            "/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            auth=("cascade-portal", identity.credentials.portal_secret),
        )
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"
    assert (await portal_sign_in(identity, "sam.biller")).status_code != 302
    async with identity.session() as session:
        user = await session.get(User, sam)
        events = list(
            await session.scalars(
                select(AuditEvent.event).where(AuditEvent.target_id == sam).order_by(AuditEvent.id)
            )
        )
    assert user is not None and user.status == "deleted"
    assert events[-2:] == ["membership.removed", "user.deleted"]


async def test_an_unreadable_body_is_a_problem_naming_the_field(identity: IdentityHarness) -> None:
    token, org = await admin_token(identity, "ever.admin"), await org_id_of(identity, EVERGREEN)
    async with identity.client(headers=bearer(token)) as api:
        response = await api.post(f"/api/v1/organizations/{org}/tax-ids", json={"label": "x"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/validation") and "tin" in response.json()["errors"]
