"""Requests with one `Idempotency-Key` at the same moment (on PostgreSQL they truly run
at once; on SQLite the write lock takes them in turn): exactly one resource, one audit
event and one kept answer; every other request gets that answer replayed or a 409
problem while the first is in flight, never a second resource or a 500."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from identity.idempotency_records import IdempotencyRecord
from identity.models import AuditEvent, Client, Organization
from identity.store.idempotency import IdempotencyStore, KeyScope
from tests.identity.admin_flows import admin_token, bearer, org_id_of, user_id_of
from tests.identity.harness import IdentityHarness
from tests.support.databases import db_kind

EVERGREEN = "Evergreen Family Clinic"
KEY = "Idempotency-Key"
PARALLEL = 20 if db_kind() == "postgresql" else 6
PROBLEM_JSON = "application/problem+json"


async def count(identity: IdentityHarness, model: Any, *where: Any) -> int:
    async with identity.session() as session:
        found = await session.scalar(select(func.count()).select_from(model).where(*where))
    return int(found or 0)


def one_answer(responses: list[httpx.Response]) -> dict[str, Any]:
    """The one answer every request got (first or replayed), 409 problems aside."""
    assert all(r.status_code in (201, 409) for r in responses), [
        (r.status_code, r.text) for r in responses
    ]
    busy = [r for r in responses if r.status_code == 409]
    assert all(r.headers["content-type"] == PROBLEM_JSON for r in busy)
    assert all(r.json()["type"].endswith("/idempotency-key-in-use") for r in busy)
    created = [r for r in responses if r.status_code == 201]
    assert len([r for r in created if "idempotency-replayed" not in r.headers]) == 1
    assert len({r.text for r in created}) == 1, "every 201 is the same answer"
    body: dict[str, Any] = created[0].json()
    return body


@pytest.mark.parametrize("round_", range(3))
async def test_parallel_retries_create_one_sub_organization(
    identity: IdentityHarness, round_: int
) -> None:
    org = await org_id_of(identity, EVERGREEN)
    name, key = f"Raced {round_}", f"race-sub-{round_}"
    path = f"/api/v1/organizations/{org}/sub-organizations"
    async with identity.client(headers=bearer(await admin_token(identity, "ever.admin"))) as api:
        responses = await asyncio.gather(
            *(api.post(path, json={"name": name}, headers={KEY: key}) for _ in range(PARALLEL))
        )
    child = one_answer(list(responses))["id"]
    assert await count(identity, Organization, Organization.name == name) == 1
    created = (AuditEvent.event == "organization.created", AuditEvent.target_id == child)
    assert await count(identity, AuditEvent, *created) == 1
    assert await count(identity, IdempotencyRecord, IdempotencyRecord.key == key) == 1


async def test_parallel_retries_create_one_client(identity: IdentityHarness) -> None:
    org = await org_id_of(identity, EVERGREEN)
    path = f"/api/v1/organizations/{org}/clients"
    async with identity.client(headers=bearer(await admin_token(identity, "ever.admin"))) as api:
        responses = await asyncio.gather(
            *(
                api.post(path, json={"name": "Raced client"}, headers={KEY: "race-client"})
                for _ in range(PARALLEL)
            )
        )
    client_id = one_answer(list(responses))["client_id"]
    assert await count(identity, Client, Client.name == "Raced client") == 1
    assert await count(identity, AuditEvent, AuditEvent.target_id == client_id) == 1


@pytest.mark.skipif(
    db_kind() != "postgresql",
    reason="SQLite has one writer: a second request waits for the first and replays its "
    "answer, it never sees the key in flight",
)
async def test_a_key_in_flight_is_a_409_until_its_request_ends(identity: IdentityHarness) -> None:
    org = await org_id_of(identity, EVERGREEN)
    scope = KeyScope(await user_id_of(identity, "ever.admin"), org, "in-flight-1")
    path = f"/api/v1/organizations/{org}/sub-organizations"
    async with identity.client(headers=bearer(await admin_token(identity, "ever.admin"))) as api:
        async with identity.session() as holder:
            assert await IdempotencyStore(holder, identity.settings).hold(scope)
            busy = await api.post(path, json={"name": "In flight"}, headers={KEY: scope.key})
            await holder.rollback()
        done = await api.post(path, json={"name": "In flight"}, headers={KEY: scope.key})
    assert busy.status_code == 409 and busy.headers["content-type"] == PROBLEM_JSON
    assert busy.json()["type"].endswith("/idempotency-key-in-use")
    assert "retry" in busy.json()["detail"]
    assert done.status_code == 201
    assert await count(identity, Organization, Organization.name == "In flight") == 1
