"""TINs asked for at the same moment (on PostgreSQL the requests truly run at once; on
SQLite the write lock serializes them): nothing becomes active without an operator,
and the same organization asking twice gets one 202 and 409 problems, never a 500."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import select, update

from identity.models import Membership, TaxId
from tests.identity.admin_flows import EVIDENCE, admin_token, bearer, org_id_of, user_id_of
from tests.identity.harness import IdentityHarness
from tests.support.databases import db_kind

PARALLEL = 16 if db_kind() == "postgresql" else 6
ROUNDS = 3


async def ask(api: httpx.AsyncClient, org: str, tin: str) -> httpx.Response:
    return await api.post(f"/api/v1/organizations/{org}/tax-ids", json={"tin": tin, **EVIDENCE})


async def rows_of(identity: IdentityHarness, tin: str) -> list[tuple[str, str]]:
    async with identity.session() as session:
        rows = await session.scalars(select(TaxId).where(TaxId.tin == tin))
        return sorted((r.organization_id, r.status) for r in rows)


async def harbor_administrator(identity: IdentityHarness) -> str:
    async with identity.session() as session:
        hana = await user_id_of(identity, "hana.harb")
        await session.execute(
            update(Membership).where(Membership.user_id == hana).values(role="administrator")
        )
        await session.commit()
    return await admin_token(identity, "hana.harb")


def problems_only(responses: list[httpx.Response]) -> list[dict[str, Any]]:
    bodies = [r.json() for r in responses if r.status_code != 202]
    assert all(r.status_code in (202, 409) for r in responses), [
        (r.status_code, r.text) for r in responses
    ]
    assert all(
        r.headers["content-type"] == "application/problem+json"
        for r in responses
        if r.status_code == 409
    )
    return bodies


async def test_two_organizations_asking_for_one_new_tin_at_once_activate_nothing(
    identity: IdentityHarness,
) -> None:
    evergreen = await org_id_of(identity, "Evergreen Family Clinic")
    harbor = await org_id_of(identity, "Harbor Billing Services")
    ever_api = identity.client(headers=bearer(await admin_token(identity, "ever.admin")))
    harbor_api = identity.client(headers=bearer(await harbor_administrator(identity)))
    async with ever_api, harbor_api:
        for n in range(ROUNDS):
            tin = f"6610000{n:02d}"
            responses = await asyncio.gather(
                *(
                    ask(ever_api, evergreen, tin) if i % 2 else ask(harbor_api, harbor, tin)
                    for i in range(PARALLEL)
                )
            )
            bodies = problems_only(list(responses))
            assert all(b["type"].endswith("tin-exists") for b in bodies)
            assert sum(r.status_code == 202 for r in responses) == 2, "one request per org"
            assert await rows_of(identity, tin) == sorted(
                [(evergreen, "pending_verification"), (harbor, "pending_verification")]
            ), "no TIN becomes active without an operator"


async def test_one_organization_asking_twice_at_once_gets_one_202_and_409s(
    identity: IdentityHarness,
) -> None:
    evergreen = await org_id_of(identity, "Evergreen Family Clinic")
    async with identity.client(headers=bearer(await admin_token(identity, "ever.admin"))) as api:
        for n in range(ROUNDS):
            tin = f"6620000{n:02d}"
            responses = list(
                await asyncio.gather(*(ask(api, evergreen, tin) for _ in range(PARALLEL)))
            )
            bodies = problems_only(responses)
            assert [r.status_code for r in responses].count(202) == 1
            assert len(bodies) == PARALLEL - 1
            assert all(b["type"].endswith("tin-exists") for b in bodies)
            assert await rows_of(identity, tin) == [(evergreen, "pending_verification")]
