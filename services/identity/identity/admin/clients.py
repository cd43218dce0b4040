"""Integrator clients of an organization, managed by its administrators.

An integrator client uses the client_credentials grant for the APIs of the health
plans its administrator chose (RFC 8707 resources, the first its default; by default
the first plan TINpass knows) and acts for the Tax IDs its administrator granted it (a subset of the
organization's subtree, as members get). It authenticates with a secret
(`client_secret_basic`; shown once, stored only as the keyed digest) or with
`private_key_jwt` against public keys registered here; registering keys retires
the secret and rotating the secret retires the keys, so one credential works at
a time. Deleting a client revokes every token issued to it.

Authorization is `Administrator.organization` (through `service.organization`), as
for everything an administrator does; the routes are `identity.admin.clients_api`
and the console's `identity.web.console_clients`; every change is flushed with its
audit event, and the caller commits once.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from identity import admin_ops
from identity.admin import service
from identity.admin.client_keys import public_jwks
from identity.admin.service import Actor
from identity.models import Client, RefreshToken, UsedClientAssertion
from identity.problems import invalid, not_found
from identity.security import client_secret_digest, format_tin, generate_secret
from identity.settings import Settings

SECRET_METHOD = "client_secret_basic"
KEYS_METHOD = "private_key_jwt"


async def owned(session: AsyncSession, actor: Actor, org_id: str, client_id: str) -> Client:
    """One of the organization's integrator clients; 404 for anything else."""
    await service.organization(session, actor, org_id)
    client = await session.scalar(
        select(Client)
        .options(selectinload(Client.tax_ids))
        .where(Client.client_id == client_id, Client.organization_id == org_id)
    )
    if client is None or not _integrator(client):
        raise not_found("client")
    return client


def _integrator(client: Client) -> bool:
    """Only client_credentials clients are managed here, never sign-in applications."""
    return list(client.grant_types) == ["client_credentials"]


def describe(client: Client) -> dict[str, Any]:
    """What an administrator sees of a client (and what the audit trail records)."""
    return {
        "client_id": client.client_id,
        "name": client.name,
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "grant_types": list(client.grant_types),
        "scope": client.scope,
        "tax_ids": sorted(format_tin(t.tin) for t in client.tax_ids),
        "resources": list(client.resources),
        "key_ids": [str(k.get("kid")) for k in (client.jwks or {}).get("keys", [])],
    }


def _name(value: str) -> str:
    name = value.strip()
    if not name:
        raise invalid("An integrator client needs a name.", field="name")
    return name[:200]


def _resources(settings: Settings, chosen: list[str] | None) -> list[str]:
    """The plans' APIs a client may use: known resources, at least one; default the first."""
    if chosen is None:
        return list(settings.resources)[:1]
    try:
        resources = admin_ops.known_resources(settings, chosen)
    except ValueError as error:
        raise invalid(
            f"Choose among the plans TINpass knows: {error}.", field="resources"
        ) from error
    if not resources:
        raise invalid("An integrator client needs at least one plan (resource).", field="resources")
    return resources


async def list_clients(session: AsyncSession, actor: Actor, org_id: str) -> list[Client]:
    await service.organization(session, actor, org_id)
    rows = await session.scalars(
        select(Client)
        .options(selectinload(Client.tax_ids))
        .where(Client.organization_id == org_id)
        .order_by(Client.created_at, Client.client_id)
    )
    return [c for c in rows if _integrator(c)]


async def create(
    session: AsyncSession,
    actor: Actor,
    settings: Settings,
    org_id: str,
    name: str,
    tax_ids: list[str],
    jwks: dict[str, Any] | None = None,
    resources: list[str] | None = None,
) -> tuple[Client, str | None]:
    """A new client; with `jwks` it uses private_key_jwt, otherwise a secret shown once."""
    await service.organization(session, actor, org_id)
    name = _name(name)
    plans = _resources(settings, resources)
    granted = await service.grantable(session, actor, org_id, tax_ids)
    keys = public_jwks(jwks) if jwks is not None else None
    secret = None if keys else generate_secret()
    client = Client(
        client_id="int-" + secrets.token_hex(8),
        name=name,
        token_endpoint_auth_method=KEYS_METHOD if keys else SECRET_METHOD,
        secret_digest=client_secret_digest(secret, settings.client_secret_pepper)
        if secret
        else None,
        redirect_uris=[],
        post_logout_redirect_uris=[],
        grant_types=["client_credentials"],
        response_types=[],
        scope=admin_ops.API_SCOPE,
        jwks=keys,
        organization_id=org_id,
        resources=plans,
    )
    client.tax_ids = granted
    session.add(client)
    await session.flush()
    await service.record(
        session, actor, "client.created", org_id, "client", client.client_id, after=describe(client)
    )
    return client, secret


async def rotate_secret(
    session: AsyncSession, actor: Actor, settings: Settings, org_id: str, client_id: str
) -> tuple[Client, str]:
    """A new secret, returned once; the old one (or the registered keys) stop working."""
    client = await owned(session, actor, org_id, client_id)
    before = describe(client)
    secret = generate_secret()
    client.secret_digest = client_secret_digest(secret, settings.client_secret_pepper)
    client.token_endpoint_auth_method = SECRET_METHOD
    client.jwks = None
    await session.flush()
    await service.record(
        session,
        actor,
        "client.secret_rotated",
        org_id,
        "client",
        client_id,
        before=before,
        after=describe(client),
    )
    return client, secret


async def register_keys(
    session: AsyncSession, actor: Actor, org_id: str, client_id: str, jwks: dict[str, Any]
) -> Client:
    """Replace the client's public keys; it authenticates with private_key_jwt from now on."""
    client = await owned(session, actor, org_id, client_id)
    before = describe(client)
    client.jwks = public_jwks(jwks)
    client.token_endpoint_auth_method = KEYS_METHOD
    client.secret_digest = None
    await session.flush()
    await service.record(
        session,
        actor,
        "client.keys_registered",
        org_id,
        "client",
        client_id,
        before=before,
        after=describe(client),
    )
    return client


async def change(
    session: AsyncSession,
    actor: Actor,
    org_id: str,
    client_id: str,
    *,
    name: str | None,
    tax_ids: list[str] | None,
    settings: Settings | None = None,
    resources: list[str] | None = None,
) -> Client:
    """Rename, re-grant or choose its plans; the next token carries exactly the new grant."""
    client = await owned(session, actor, org_id, client_id)
    before = describe(client)
    if name is not None:
        client.name = _name(name)
    if settings is not None and resources is not None:
        client.resources = _resources(settings, resources)
    if tax_ids is not None:
        client.tax_ids = await service.grantable(session, actor, org_id, tax_ids)
    await session.flush()
    await service.record(
        session,
        actor,
        "client.changed",
        org_id,
        "client",
        client_id,
        before=before,
        after=describe(client),
    )
    return client


async def remove(session: AsyncSession, actor: Actor, org_id: str, client_id: str) -> int:
    """Delete the client and revoke what it was issued; returns how many refresh tokens
    were revoked. Its access tokens are inactive from then on: introspection and
    userinfo find no client (`identity.store.denylist`)."""
    client = await owned(session, actor, org_id, client_id)
    before = describe(client)
    result = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.client_id == client_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    revoked = int(getattr(result, "rowcount", 0) or 0)
    await session.execute(
        delete(UsedClientAssertion).where(UsedClientAssertion.client_id == client_id)
    )
    await session.delete(client)
    await session.flush()
    await service.record(
        session,
        actor,
        "client.deleted",
        org_id,
        "client",
        client_id,
        before=before,
        after={"refresh_tokens_revoked": revoked},
    )
    return revoked
