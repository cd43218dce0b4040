"""Users of several organizations, and a large TIN grant, for the token-context tests.

Seeded with identity's own operator functions (`identity.admin_ops`) in the
harness' session; organizations that are not active get their status set on the
model, as verification or suspension would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from identity import admin_ops
from identity.models import Membership
from identity.settings import CASCADE_RESOURCE
from policy import Principal, TokenVerifier
from tests.identity.harness import (
    ISSUER,
    PASSWORD,
    PORTAL,
    PORTAL_REDIRECT,
    IdentityHarness,
)
from tests.support.oidc import Pkce, authorize_url, query_of, sign_in

BIG = 500
ELM_TINS = tuple(f"{n:09d}" for n in range(510_000_000, 510_000_000 + BIG))
INTEGRATOR = "elm-integrator"
ELM = "Elm Health System"

# (organization, status, TINs)
ORGS: list[tuple[str, str, tuple[str, ...]]] = [
    ("Alder Clinic", "active", ("100000001", "100000002")),
    ("Birch Billing", "active", ("200000001",)),
    ("Cedar Pediatrics", "pending_verification", ("300000001",)),
    ("Dogwood Surgery", "suspended", ("400000001",)),
    ("Elm Health System", "active", ELM_TINS),
]

# user -> [(organization, role, TINs, plan roles)], in order of membership creation
MEMBERSHIPS: dict[str, list[tuple[str, str, tuple[str, ...], list[str]]]] = {
    "multi.biller": [
        ("Alder Clinic", "administrator", ("100000001", "100000002"), ["billing"]),
        ("Birch Billing", "subscriber", ("200000001",), ["billing", "clinical"]),
        ("Cedar Pediatrics", "subscriber", ("300000001",), ["billing"]),
        ("Dogwood Surgery", "subscriber", ("400000001",), ["billing"]),
    ],
    "refresh.biller": [
        ("Alder Clinic", "subscriber", ("100000001", "100000002"), ["billing"]),
        ("Birch Billing", "subscriber", ("200000001",), ["billing"]),
    ],
    "solo.biller": [
        ("Cedar Pediatrics", "subscriber", ("300000001",), ["billing"]),
        ("Alder Clinic", "subscriber", ("100000001",), ["billing"]),
    ],
    "pending.only": [("Cedar Pediatrics", "subscriber", ("300000001",), ["billing"])],
    "big.biller": [
        ("Elm Health System", "subscriber", ELM_TINS, ["billing"]),
        ("Birch Billing", "subscriber", ("200000001",), ["billing"]),
    ],
    "big.refresher": [
        ("Elm Health System", "subscriber", ELM_TINS, ["billing"]),
        ("Birch Billing", "subscriber", ("200000001",), ["billing"]),
    ],
}


@dataclass
class World:
    identity: IdentityHarness
    orgs: dict[str, str] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)
    integrator_secret: str = ""


async def _organizations(session: AsyncSession, world: World, names: set[str]) -> None:
    for name, status, tins in ORGS:
        if name not in names:
            continue
        org = await admin_ops.create_organization(session, name)
        for tin in tins:
            await admin_ops.add_tax_id(session, org.id, tin)
        org.status = status
        world.orgs[name] = org.id


async def seed(identity: IdentityHarness, users: list[str], *, integrator: bool = False) -> World:
    """The organizations the named users need, the users, and Elm's 500-TIN integrator."""
    world = World(identity)
    needed = {org for user in users for org, *_ in MEMBERSHIPS[user]}
    async with identity.session() as session:
        await _organizations(session, world, needed | ({ELM} if integrator else set()))
        for username in users:
            user = await admin_ops.create_user(
                session, identity.settings, username, f"{username}@example.test", PASSWORD
            )
            world.users[username] = user.id
            for org, role, tins, plan_roles in MEMBERSHIPS[username]:
                await admin_ops.add_membership(
                    session, user.id, world.orgs[org], role, tins, plan_roles
                )
        if integrator:
            world.integrator_secret = await _integrator(session, identity, world.orgs[ELM])
        await session.commit()
    return world


async def _integrator(session: AsyncSession, identity: IdentityHarness, org_id: str) -> str:
    _, secret = await admin_ops.create_client(
        session,
        identity.settings,
        INTEGRATOR,
        "Elm's claims integration",
        kind="integrator",
        grant_types=["client_credentials"],
        scope="eligibility:read claims:read",
        auth_method="client_secret_basic",
        org_id=org_id,
        tins=ELM_TINS,
        resources=[CASCADE_RESOURCE],
    )
    assert secret is not None
    return secret


async def sign_in_code(
    identity: IdentityHarness, browser: httpx.AsyncClient, username: str, **extra: str
) -> tuple[httpx.Response, Pkce]:
    """Sign in at the portal's authorization request; the redirect back to the portal."""
    pkce = Pkce.new()
    url = authorize_url(PORTAL, PORTAL_REDIRECT, pkce, **extra)
    response = await sign_in(browser, url, username, PASSWORD)
    assert response.status_code == 302, response.text
    assert response.headers["location"].startswith(PORTAL_REDIRECT + "?")
    return response, pkce


async def user_tokens(identity: IdentityHarness, username: str, **extra: str) -> dict[str, Any]:
    """The portal's tokens for `username` (`org_id=...` among `extra` selects one)."""
    async with identity.client() as browser:
        redirect, pkce = await sign_in_code(identity, browser, username, **extra)
        response = await browser.post(
            "/token",
            data={
                "grant_type": "authorization_code",
                "code": query_of(redirect.headers["location"])["code"],
                "redirect_uri": PORTAL_REDIRECT,
                "code_verifier": pkce.verifier,
            },
            auth=(PORTAL, identity.credentials.portal_secret),
        )
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


async def refresh(identity: IdentityHarness, refresh_token: str) -> dict[str, Any]:
    async with identity.client() as client:
        response = await client.post(
            "/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh_token},
            auth=(PORTAL, identity.credentials.portal_secret),
        )
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


async def integrator_token(world: World) -> str:
    async with world.identity.client() as client:
        response = await client.post(
            "/token",
            data={"grant_type": "client_credentials", "scope": "claims:read"},
            auth=(INTEGRATOR, world.integrator_secret),
        )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def verified(identity: IdentityHarness, access_token: str) -> Principal:
    """The token checked as a resource server checks it (policy, the published JWKS)."""
    async with identity.client() as http:
        verifier = TokenVerifier(
            ISSUER, CASCADE_RESOURCE, ISSUER + "/.well-known/jwks.json", http_client=http
        )
        return await verifier.verify(access_token)


async def revoke_tin_grant(world: World, username: str, org: str, tin: str) -> None:
    """Take one TIN away from a user's membership (as an administrator's change does)."""
    async with world.identity.session() as session:
        membership = await session.scalar(
            select(Membership)
            .options(selectinload(Membership.tax_ids))
            .where(
                Membership.user_id == world.users[username],
                Membership.organization_id == world.orgs[org],
            )
        )
        assert membership is not None and tin in {t.tin for t in membership.tax_ids}
        membership.tax_ids = [t for t in membership.tax_ids if t.tin != tin]
        await session.commit()
