"""`Idempotency-Key` on the admin API's creating endpoints: a retry replays the first
answer and creates nothing more, a reused key on another request is refused, keys are
per administrator and organization, a malformed key is a problem, expired keys are
forgotten, and the OpenAPI document shows the header where it is accepted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from identity.idempotency_records import IdempotencyRecord
from identity.models import AuditEvent, Membership, Nomination, Organization
from tests.identity.admin_flows import EVIDENCE, admin_token, bearer, org_id_of, user_id_of
from tests.identity.harness import IdentityHarness

EVERGREEN = "Evergreen Family Clinic"
KEY = "Idempotency-Key"
REPLAYED = "idempotency-replayed"
PROBLEM_JSON = "application/problem+json"
CREATING = {
    "POST /api/v1/organizations/{org_id}/sub-organizations",
    "POST /api/v1/organizations/{org_id}/tax-ids",
    "POST /api/v1/organizations/{org_id}/nominations",
    "POST /api/v1/organizations/{org_id}/nominations/{nomination_id}/resend",
    "POST /api/v1/organizations/{org_id}/members/{user_id}/password-reset",
    "POST /api/v1/organizations/{org_id}/clients",
    "POST /api/v1/organizations/{org_id}/clients/{client_id}/secret",
}


async def api_of(identity: IdentityHarness, username: str = "ever.admin") -> httpx.AsyncClient:
    return identity.client(headers=bearer(await admin_token(identity, username)))


async def count(identity: IdentityHarness, model: Any, *where: Any) -> int:
    async with identity.session() as session:
        found = await session.scalar(select(func.count()).select_from(model).where(*where))
    return int(found or 0)


async def events(identity: IdentityHarness) -> int:
    return await count(identity, AuditEvent)


def replayed(first: httpx.Response, again: httpx.Response) -> None:
    """`again` is `first` replayed: same status and body, marked as a replay."""
    assert first.status_code in (200, 201, 202), first.text
    assert REPLAYED not in first.headers
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert again.headers[REPLAYED] == "true"
    assert again.headers["cache-control"] == "no-store"


async def test_a_retried_sub_organization_is_created_once(identity: IdentityHarness) -> None:
    org = await org_id_of(identity, EVERGREEN)
    path = f"/api/v1/organizations/{org}/sub-organizations"
    async with await api_of(identity) as api:
        before = await events(identity)
        first = await api.post(path, json={"name": "Evergreen Retry"}, headers={KEY: "sub-1"})
        after_first = await events(identity)
        again = await api.post(path, json={"name": "Evergreen Retry"}, headers={KEY: "sub-1"})
    replayed(first, again)
    assert first.status_code == 201 and again.json()["id"] == first.json()["id"]
    assert await count(identity, Organization, Organization.name == "Evergreen Retry") == 1
    assert after_first == before + 1, "one organization.created event"
    assert await events(identity) == after_first, "a replay changes and audits nothing"


async def _nomination(identity: IdentityHarness, org: str, email: str) -> str:
    async with identity.session() as session:
        found = await session.scalar(
            select(Nomination.id).where(
                Nomination.organization_id == org, Nomination.email == email
            )
        )
    assert found is not None
    return str(found)


async def test_every_creating_endpoint_replays_a_retry(identity: IdentityHarness) -> None:
    org = await org_id_of(identity, EVERGREEN)
    base = f"/api/v1/organizations/{org}"
    sam = await user_id_of(identity, "sam.biller")
    async with await api_of(identity) as api:
        client = await api.post(f"{base}/clients", json={"name": "Retry batch"})
        await api.post(f"{base}/nominations", json={"email": "resend.me@example.org"})
        nomination = await _nomination(identity, org, "resend.me@example.org")
        calls: list[tuple[str, dict[str, Any] | None]] = [
            (f"{base}/tax-ids", {"tin": "77-1234567", **EVIDENCE}),
            (f"{base}/nominations", {"email": "retry.invite@example.org"}),
            (f"{base}/nominations/{nomination}/resend", None),
            (f"{base}/members/{sam}/password-reset", None),
            (f"{base}/clients", {"name": "Retried client"}),
            (f"{base}/clients/{client.json()['client_id']}/secret", None),
        ]
        for n, (path, body) in enumerate(calls):
            headers = {KEY: f"every-{n}"}
            before = await events(identity)
            first = await api.post(path, json=body, headers=headers)
            made = await events(identity)
            again = await api.post(path, json=body, headers=headers)
            replayed(first, again)
            assert made > before, f"{path} audits what it does"
            assert await events(identity) == made, f"{path}: a replay does nothing again"
    assert await count(identity, Nomination, Nomination.email == "retry.invite@example.org") == 1


async def test_a_replayed_secret_is_the_first_and_never_stored_in_clear(
    identity: IdentityHarness,
) -> None:
    org = await org_id_of(identity, EVERGREEN)
    path = f"/api/v1/organizations/{org}/clients"
    async with await api_of(identity) as api:
        first = await api.post(path, json={"name": "Secret batch"}, headers={KEY: "secret-1"})
        again = await api.post(path, json={"name": "Secret batch"}, headers={KEY: "secret-1"})
    replayed(first, again)
    secret = first.json()["client_secret"]
    assert again.json()["client_secret"] == secret, "the retry can use the secret it lost"
    async with identity.session() as session:
        stored = list(await session.scalars(select(IdempotencyRecord.response)))
    assert stored and not [s for s in stored if secret in s or "client_secret" in s]


async def test_the_same_key_on_another_request_is_refused(identity: IdentityHarness) -> None:
    org = await org_id_of(identity, EVERGREEN)
    base = f"/api/v1/organizations/{org}"
    headers = {KEY: "reused-1"}
    async with await api_of(identity) as api:
        first = await api.post(
            f"{base}/sub-organizations", json={"name": "Reuse A"}, headers=headers
        )
        other_body = await api.post(
            f"{base}/sub-organizations", json={"name": "Reuse B"}, headers=headers
        )
        other_path = await api.post(f"{base}/clients", json={"name": "Reuse A"}, headers=headers)
    assert first.status_code == 201
    for refused in (other_body, other_path):
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == PROBLEM_JSON
        assert refused.json()["type"].endswith("/idempotency-key-reused")
        assert "new key" in refused.json()["detail"]
    assert await count(identity, Organization, Organization.name == "Reuse B") == 0


async def test_keys_are_per_administrator_and_per_organization(identity: IdentityHarness) -> None:
    org = await org_id_of(identity, EVERGREEN)
    sam = await user_id_of(identity, "sam.biller")
    async with identity.session() as session:
        await session.execute(
            update(Membership)
            .where(Membership.user_id == sam, Membership.organization_id == org)
            .values(role="administrator")
        )
        await session.commit()
    body, headers = {"name": "Scoped"}, {KEY: "scoped-1"}
    async with await api_of(identity) as ever, await api_of(identity, "sam.biller") as sam_api:
        mine = await ever.post(
            f"/api/v1/organizations/{org}/sub-organizations", json=body, headers=headers
        )
        theirs = await sam_api.post(
            f"/api/v1/organizations/{org}/sub-organizations", json=body, headers=headers
        )
        child = mine.json()["id"]
        below = await ever.post(
            f"/api/v1/organizations/{child}/sub-organizations", json=body, headers=headers
        )
    assert mine.status_code == theirs.status_code == below.status_code == 201
    assert REPLAYED not in theirs.headers and REPLAYED not in below.headers
    assert len({mine.json()["id"], theirs.json()["id"], below.json()["id"]}) == 3
    assert await count(identity, Organization, Organization.name == "Scoped") == 3


async def test_without_a_key_every_request_creates(identity: IdentityHarness) -> None:
    org = await org_id_of(identity, EVERGREEN)
    path = f"/api/v1/organizations/{org}/sub-organizations"
    async with await api_of(identity) as api:
        answers = [await api.post(path, json={"name": "Unkeyed"}) for _ in range(2)]
    assert [a.status_code for a in answers] == [201, 201]
    assert not [a for a in answers if REPLAYED in a.headers]
    assert await count(identity, Organization, Organization.name == "Unkeyed") == 2


@pytest.mark.parametrize("key", ["", "k" * 201, "tab\there"], ids=["empty", "too-long", "control"])
async def test_a_malformed_key_is_a_problem(identity: IdentityHarness, key: str) -> None:
    org = await org_id_of(identity, EVERGREEN)
    path = f"/api/v1/organizations/{org}/sub-organizations"
    async with await api_of(identity) as api:
        answer = await api.post(path, json={"name": "Malformed"}, headers={KEY: key})
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == PROBLEM_JSON
    assert answer.json()["type"].endswith("/idempotency-key-invalid")
    assert "1 to 200 printable ASCII characters" in answer.json()["detail"]
    assert await count(identity, Organization, Organization.name == "Malformed") == 0


async def test_a_refused_request_keeps_nothing_and_its_key_serves_again(
    identity: IdentityHarness,
) -> None:
    org = await org_id_of(identity, EVERGREEN)
    path, headers = f"/api/v1/organizations/{org}/nominations", {KEY: "refused-1"}
    async with await api_of(identity) as api:
        refused = await api.post(path, json={"email": "not an address"}, headers=headers)
        fixed = await api.post(path, json={"email": "fixed@example.org"}, headers=headers)
    assert refused.status_code == 422 and refused.headers["content-type"] == PROBLEM_JSON
    assert fixed.status_code == 201 and REPLAYED not in fixed.headers
    assert await count(identity, Nomination, Nomination.email == "fixed@example.org") == 1


async def test_a_key_on_an_organization_not_administered_is_404(identity: IdentityHarness) -> None:
    harbor = await org_id_of(identity, "Harbor Billing Services")
    async with await api_of(identity) as api:
        answer = await api.post(
            f"/api/v1/organizations/{harbor}/sub-organizations",
            json={"name": "Intruder"},
            headers={KEY: "intruder-1"},
        )
    assert answer.status_code == 404 and answer.headers["content-type"] == PROBLEM_JSON
    assert await count(identity, IdempotencyRecord, IdempotencyRecord.key == "intruder-1") == 0


async def test_an_expired_key_is_forgotten(identity: IdentityHarness) -> None:
    org = await org_id_of(identity, EVERGREEN)
    path = f"/api/v1/organizations/{org}/sub-organizations"
    headers = {KEY: "expiring-1"}
    async with await api_of(identity) as api:
        first = await api.post(path, json={"name": "Expiring"}, headers=headers)
        stored = select(IdempotencyRecord).where(IdempotencyRecord.key == "expiring-1")
        async with identity.session() as session:
            row = await session.scalar(stored)
            assert row is not None and first.status_code == 201
            ttl = row.expires_at - row.created_at
            row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
            await session.commit()
        later = await api.post(path, json={"name": "Expiring"}, headers=headers)
    assert ttl == timedelta(seconds=identity.settings.idempotency_key_ttl) == timedelta(hours=24)
    assert later.status_code == 201 and REPLAYED not in later.headers
    assert later.json()["id"] != first.json()["id"]
    assert await count(identity, IdempotencyRecord, IdempotencyRecord.key == "expiring-1") == 1


async def test_the_openapi_document_shows_the_header_where_it_is_accepted(
    identity: IdentityHarness,
) -> None:
    async with identity.client() as client:
        spec = (await client.get("/openapi.json")).json()
    with_key = set()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
            if KEY in names:
                with_key.add(f"{method.upper()} {path}")
                header = next(p for p in operation["parameters"] if p["name"] == KEY)
                assert not header["required"] and "replays" in header["description"]
                assert "idempotency-key-in-use" in operation["responses"]["409"]["description"]
                assert "idempotency-key-reused" in operation["responses"]["422"]["description"]
                assert "400" in operation["responses"]
    assert with_key == CREATING
