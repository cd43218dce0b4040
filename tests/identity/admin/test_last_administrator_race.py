"""The last-administrator rule under concurrency: administrators removing, demoting
or suspending each other all at once never leave an organization without one.

Every administrator of a fresh organization acts on every other one in parallel
(on PostgreSQL truly at once; on SQLite the write lock serializes them), a few
rounds per path; the console runs the same service functions.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from itertools import permutations

import httpx
from sqlalchemy import select

from identity import admin_ops
from identity.models import Membership, User
from tests.identity.admin_flows import admin_token, bearer
from tests.identity.harness import PASSWORD, IdentityHarness
from tests.identity.web.test_console import csrf_of, signed_in
from tests.support.databases import db_kind

ADMINS = 4 if db_kind() == "postgresql" else 3
ROUNDS = 3 if db_kind() == "postgresql" else 2
Act = Callable[[httpx.AsyncClient, str, str], Awaitable[httpx.Response]]


async def remove(api: httpx.AsyncClient, org: str, user: str) -> httpx.Response:
    return await api.delete(f"/api/v1/organizations/{org}/members/{user}")


async def demote(api: httpx.AsyncClient, org: str, user: str) -> httpx.Response:
    return await api.patch(
        f"/api/v1/organizations/{org}/members/{user}", json={"role": "subscriber"}
    )


async def suspend(api: httpx.AsyncClient, org: str, user: str) -> httpx.Response:
    return await api.post(f"/api/v1/organizations/{org}/members/{user}/suspend")


async def organizations_with_admins(identity: IdentityHarness, count: int) -> list[str]:
    """`count` fresh organizations, each with the same ADMINS new administrators."""
    tag = uuid.uuid4().hex[:8]
    async with identity.session() as session:
        orgs = [
            await admin_ops.create_organization(session, f"Race {tag} {i}") for i in range(count)
        ]
        for n in range(ADMINS):
            user = await admin_ops.create_user(
                session,
                identity.settings,
                f"race.{tag}.{n}",
                f"race.{tag}.{n}@example.org",
                PASSWORD,
            )
            for org in orgs:
                await admin_ops.add_membership(session, user.id, org.id, "administrator", [])
        await session.commit()
        return [org.id for org in orgs]


async def active_administrators(identity: IdentityHarness, org: str) -> list[str]:
    async with identity.session() as session:
        return list(
            await session.scalars(
                select(User.username)
                .join(Membership, Membership.user_id == User.id)
                .where(
                    Membership.organization_id == org,
                    Membership.role == "administrator",
                    User.status == "active",
                )
            )
        )


async def admins_of(identity: IdentityHarness, org: str) -> dict[str, str]:
    """user id -> admin API access token, for each administrator of `org`."""
    async with identity.session() as session:
        rows = (
            await session.execute(
                select(User.id, User.username)
                .join(Membership, Membership.user_id == User.id)
                .where(Membership.organization_id == org)
            )
        ).all()
    tokens = await asyncio.gather(*(admin_token(identity, name) for _, name in rows))
    return {user_id: token for (user_id, _), token in zip(rows, tokens, strict=True)}


async def race(identity: IdentityHarness, org: str, tokens: dict[str, str], act: Act) -> None:
    """Every administrator acts on every other one at once; one always stays."""

    async def one(actor: str, target: str) -> httpx.Response:
        async with identity.client(headers=bearer(tokens[actor])) as api:
            return await act(api, org, target)

    pairs = list(permutations(tokens, 2))
    responses = await asyncio.gather(*(one(actor, target) for actor, target in pairs))
    done = [r for r in responses if r.status_code in (200, 204)]
    refused = [r for r in responses if r.status_code == 409]
    assert len(done) + len(refused) + sum(r.status_code in (401, 404) for r in responses) == len(
        pairs
    ), [r.text for r in responses]
    assert all(r.json()["type"].endswith("/last-administrator") for r in refused)
    left = await active_administrators(identity, org)
    assert len(left) >= 1, "the organization was left without an administrator"
    if act is remove:  # (demoting or suspending someone twice is a harmless repeat)
        assert len(done) == ADMINS - len(left), "each removal took one administrator away"


async def test_administrators_removing_each_other_at_once_leave_one(
    identity: IdentityHarness,
) -> None:
    orgs = await organizations_with_admins(identity, ROUNDS)
    tokens = await admins_of(identity, orgs[0])
    for org in orgs:
        await race(identity, org, tokens, remove)


async def test_administrators_demoting_each_other_at_once_leave_one(
    identity: IdentityHarness,
) -> None:
    orgs = await organizations_with_admins(identity, ROUNDS)
    tokens = await admins_of(identity, orgs[0])
    for org in orgs:
        await race(identity, org, tokens, demote)


async def test_administrators_suspending_each_other_at_once_leave_one(
    identity: IdentityHarness,
) -> None:
    for _ in range(ROUNDS):  # a suspension ends the person's tokens: new people each round
        (org,) = await organizations_with_admins(identity, 1)
        await race(identity, org, await admins_of(identity, org), suspend)


async def test_administrators_removing_each_other_in_the_console_leave_one(
    identity: IdentityHarness,
) -> None:
    """The console's forms run the same rule: every administrator, signed in with a
    browser session, removes every other one at once."""
    for org in await organizations_with_admins(identity, ROUNDS):
        responses = await console_race(identity, org)
        done = [r for r in responses if "done=removed" in r.headers.get("location", "")]
        refused = [r for r in responses if r.status_code == 409]
        assert all(r.status_code in (303, 404, 409) for r in responses), [
            (r.status_code, r.headers.get("location")) for r in responses
        ]
        assert all("last administrator" in r.text for r in refused)
        left = await active_administrators(identity, org)
        assert len(left) >= 1, "the organization was left without an administrator"
        assert len(done) == ADMINS - len(left)


async def console_race(identity: IdentityHarness, org: str) -> list[httpx.Response]:
    names = await usernames_of(identity, org)
    async with AsyncExitStack() as stack:
        browsers = {
            user: await stack.enter_async_context(signed_in(identity, name))
            for user, name in names.items()
        }
        tokens = {
            (actor, target): await csrf_of(browsers[actor], f"/console/orgs/{org}")
            for actor, target in permutations(browsers, 2)
        }

        async def one(actor: str, target: str) -> httpx.Response:
            return await browsers[actor].post(
                f"/console/orgs/{org}/members/{target}/remove",
                data={"csrf_token": tokens[actor, target]},
            )

        return list(await asyncio.gather(*(one(a, t) for a, t in permutations(browsers, 2))))


async def usernames_of(identity: IdentityHarness, org: str) -> dict[str, str]:
    async with identity.session() as session:
        rows = (
            await session.execute(
                select(User.id, User.username)
                .join(Membership, Membership.user_id == User.id)
                .where(Membership.organization_id == org)
            )
        ).all()
    return {user_id: name for user_id, name in rows}
