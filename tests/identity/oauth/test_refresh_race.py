"""Refresh rotation under concurrency: one rotation wins, the family never forks.

Many parallel refreshes of one refresh token race the rotation (on PostgreSQL
they truly run at once, on SQLite the write lock serializes them); every
answer is either the one successor the winning rotation issued (the grace
window) or `invalid_grant`, and the family keeps exactly one live token.
"""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import func, select

from identity.models import RefreshToken
from identity.security import token_digest
from tests.identity.flows import portal_tokens
from tests.identity.harness import PORTAL, IdentityHarness
from tests.identity.oauth.test_grants import age_rotation
from tests.support.databases import db_kind

PARALLEL = 20 if db_kind() == "postgresql" else 8
ROUNDS = 3


async def refresh(client: httpx.AsyncClient, secret: str, token: str) -> httpx.Response:
    return await client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": token},
        auth=(PORTAL, secret),
    )


async def race(identity: IdentityHarness, token: str) -> list[httpx.Response]:
    secret = identity.credentials.portal_secret
    async with identity.client() as client:
        return list(
            await asyncio.gather(*(refresh(client, secret, token) for _ in range(PARALLEL)))
        )


async def live_tokens_of_family(identity: IdentityHarness, token: str) -> int:
    async with identity.session() as session:
        family = await session.scalar(
            select(RefreshToken.family_id).where(RefreshToken.token_digest == token_digest(token))
        )
        count = await session.scalar(
            select(func.count())
            .select_from(RefreshToken)
            .where(
                RefreshToken.family_id == family,
                RefreshToken.rotated_at.is_(None),
                RefreshToken.revoked_at.is_(None),
            )
        )
    return int(count or 0)


async def test_parallel_refreshes_rotate_once_and_share_one_successor(
    identity: IdentityHarness,
) -> None:
    token = (await portal_tokens(identity, "sam.biller"))["refresh_token"]
    for _ in range(ROUNDS):
        responses = await race(identity, token)
        granted = [r.json() for r in responses if r.status_code == 200]
        refused = [r for r in responses if r.status_code != 200]
        assert all(r.status_code == 400 for r in refused), [r.text for r in refused]
        assert all(r.json()["error"] == "invalid_grant" for r in refused)
        assert granted, "one rotation wins"
        successors = {g["refresh_token"] for g in granted}
        assert len(successors) == 1, f"{len(successors)} different successors: the family forked"
        assert len({g["access_token"] for g in granted}) == 1
        assert await live_tokens_of_family(identity, token) == 1
        token = successors.pop()
    onward = await race(identity, token)
    assert {r.status_code for r in onward} == {200}, "the one successor keeps working"


async def test_reuse_after_a_race_still_revokes_the_family(identity: IdentityHarness) -> None:
    token = (await portal_tokens(identity, "sam.biller"))["refresh_token"]
    responses = await race(identity, token)
    successor = next(r.json()["refresh_token"] for r in responses if r.status_code == 200)
    await age_rotation(identity, identity.settings.refresh_grace_seconds + 1)
    reused = await race(identity, token)
    assert {r.status_code for r in reused} == {400}
    assert {r.json()["error"] for r in reused} == {"invalid_grant"}
    async with identity.client() as client:
        after = await refresh(client, identity.credentials.portal_secret, successor)
    assert after.status_code == 400, "reuse outside the grace window revoked the family"
    assert await live_tokens_of_family(identity, token) == 0
