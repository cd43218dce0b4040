"""A console form replayed in parallel (a double click, a reload racing the first
post, a script) creates nothing twice: its single-use token is recorded first in the
change's transaction, so only one of the racing requests gets past it.

The race needs concurrent writers: it runs on PostgreSQL (`TINPASS_TEST_DB=postgresql`,
part of `make test`); SQLite serializes writers, so there is nothing to race.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from identity.models import Client, Organization
from tests.identity.admin_flows import org_id_of
from tests.identity.harness import IdentityHarness
from tests.identity.web.test_console import EVERGREEN, csrf_of, signed_in
from tests.support.databases import db_kind

pytestmark = pytest.mark.skipif(
    db_kind() != "postgresql", reason="a race of concurrent writers needs PostgreSQL"
)
PARALLEL = 8


async def count(identity: IdentityHarness, model: type[Client | Organization], name: str) -> int:
    async with identity.session() as session:
        found = await session.scalar(select(func.count()).where(model.name == name))
    return int(found or 0)


@pytest.mark.parametrize("path, model", [("clients", Client), ("sub-organizations", Organization)])
async def test_a_create_form_raced_in_parallel_creates_once(
    identity: IdentityHarness, path: str, model: type[Client | Organization]
) -> None:
    org = await org_id_of(identity, EVERGREEN)
    name = f"Raced {path}"
    async with signed_in(identity, "ever.admin") as browser:
        form = {"csrf_token": await csrf_of(browser, f"/console/orgs/{org}"), "name": name}
        answers = await asyncio.gather(
            *(browser.post(f"/console/orgs/{org}/{path}", data=form) for _ in range(PARALLEL))
        )
    codes = sorted(a.status_code for a in answers)
    assert codes == [303] + [409] * (PARALLEL - 1), codes
    assert all("already sent" in a.text for a in answers if a.status_code == 409)
    assert await count(identity, model, name) == 1


async def test_a_secret_rotation_raced_in_parallel_rotates_once(identity: IdentityHarness) -> None:
    org = await org_id_of(identity, EVERGREEN)
    clients = f"/console/orgs/{org}/clients"
    async with signed_in(identity, "ever.admin") as browser:
        made = await browser.post(
            clients, data={"csrf_token": await csrf_of(browser, clients), "name": "Raced rotation"}
        )
        secret_page = made.headers["location"]
        form = {"csrf_token": await csrf_of(browser, clients)}
        answers = await asyncio.gather(
            *(browser.post(secret_page, data=form) for _ in range(PARALLEL))
        )
    codes = sorted(a.status_code for a in answers)
    assert codes == [303] + [409] * (PARALLEL - 1), codes
