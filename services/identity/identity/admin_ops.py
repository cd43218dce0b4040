"""Operator operations: organizations, Tax IDs, users, memberships, clients.

Each function changes the caller's session and writes its audit event there;
the caller commits once. Bad input raises ValueError with a message a person can
act on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from identity import audit
from identity import plan_roles as plan_role_rules
from identity.accounts import check_new_password
from identity.models import Client, Membership, Organization, PasswordHistory, TaxId, User
from identity.security import (
    client_secret_digest,
    format_tin,
    generate_secret,
    hash_password_async,
    normalize_tin,
)
from identity.settings import Settings
from policy.names import Scope

ROLES = ("administrator", "subscriber")
ClientKind = Literal["confidential", "public", "integrator"]
# The scope of an integrator client (client_credentials): the plans' APIs.
API_SCOPE = " ".join(Scope.API)
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")


async def _audit(
    session: AsyncSession, event: str, target_type: str, target_id: str, **details: Any
) -> None:
    await audit.record(
        session,
        event,
        actor_type="operator",
        actor_id="cli",
        target_type=target_type,
        target_id=target_id,
        organization_id=details.pop("organization_id", None),
        details=details,
    )


async def create_organization(
    session: AsyncSession, name: str, parent_id: str | None = None
) -> Organization:
    if not name.strip():
        raise ValueError("an organization needs a name")
    if parent_id is not None and await session.get(Organization, parent_id) is None:
        raise ValueError(f"there is no organization {parent_id}")
    org = Organization(name=name.strip(), parent_id=parent_id, status="active")
    session.add(org)
    await session.flush()
    await _audit(
        session,
        "organization.created",
        "organization",
        org.id,
        organization_id=org.id,
        name=org.name,
    )
    return org


async def add_tax_id(
    session: AsyncSession,
    org_id: str,
    tin: str,
    label: str = "",
    *,
    legal_name: str = "",
    verified_by: str = "cli",
) -> TaxId:
    """A TIN an operator adds and so verifies at once (`verified_by`: the operator's user
    id, or `cli` for the command line); the evidence is the operator's own word."""
    digits = normalize_tin(tin)
    org = await session.get(Organization, org_id)
    if org is None:
        raise ValueError(f"there is no organization {org_id}")
    if await session.scalar(select(TaxId).where(TaxId.tin == digits)) is not None:
        raise ValueError(f"Tax ID {format_tin(digits)} is already registered to an organization")
    now = datetime.now(UTC)
    row = TaxId(
        organization_id=org_id,
        tin=digits,
        label=label,
        status="active",
        legal_name=legal_name or label or org.name,
        attestation="Added and verified by a TINpass operator.",
        attested_by=None if verified_by == "cli" else verified_by,
        attested_at=now,
        decided_by=verified_by,
        decided_at=now,
    )
    session.add(row)
    await session.flush()
    await _audit(
        session,
        "tax_id.verified",
        "tax_id",
        row.id,
        organization_id=org_id,
        tin=digits,
        verified_by=verified_by,
    )
    return row


async def create_user(
    session: AsyncSession,
    settings: Settings,
    username: str,
    email: str,
    password: str,
    given_name: str = "",
    family_name: str = "",
) -> User:
    """A user whose username and password pass the deployment's policy."""
    name, address = username.strip(), email.strip()
    if not name or "@" not in address:
        raise ValueError("a user needs a username and a valid e-mail address")
    if await session.scalar(select(User).where(User.username_normalized == name.casefold())):
        raise ValueError(f"the username {name!r} is taken")
    if await session.scalar(select(User).where(User.email_normalized == address.lower())):
        raise ValueError(f"the e-mail address {address!r} already belongs to an account")
    await check_new_password(session, settings, None, name, password)
    user = User(
        username=name,
        username_normalized=name.casefold(),
        email=address,
        email_normalized=address.lower(),
        given_name=given_name,
        family_name=family_name,
        password_hash=await hash_password_async(password),
        password_changed_at=datetime.now(UTC),
    )
    session.add(user)
    await session.flush()
    session.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash or ""))
    await _audit(session, "user.created", "user", user.id, username=name)
    return user


async def add_membership(
    session: AsyncSession,
    user_id: str,
    org_id: str,
    role: str,
    tins: Sequence[str],
    plan_roles: Sequence[str] = (),
) -> Membership:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if await session.get(User, user_id) is None:
        raise ValueError(f"there is no user {user_id}")
    roles = plan_role_rules.checked(plan_roles)
    tax_ids = await _organization_tins(session, org_id, tins)
    membership = Membership(user_id=user_id, organization_id=org_id, role=role, plan_roles=roles)
    membership.tax_ids = tax_ids
    session.add(membership)
    await session.flush()
    await _audit(
        session,
        "membership.created",
        "user",
        user_id,
        organization_id=org_id,
        role=role,
        tax_ids=[t.tin for t in tax_ids],
        plan_roles=roles,
    )
    return membership


async def _organization_tins(
    session: AsyncSession, org_id: str, tins: Iterable[str]
) -> list[TaxId]:
    digits = [normalize_tin(t) for t in tins]
    rows = list(
        await session.scalars(
            select(TaxId).where(
                TaxId.organization_id == org_id,
                TaxId.tin.in_(digits),
                TaxId.status == "active",
            )
        )
    )
    missing = sorted(set(digits) - {r.tin for r in rows})
    if missing:
        raise ValueError(
            f"Tax ID(s) {', '.join(map(format_tin, missing))} "
            f"are not verified Tax IDs of organization {org_id}"
        )
    return rows


async def create_client(
    session: AsyncSession,
    settings: Settings,
    client_id: str,
    name: str,
    *,
    kind: ClientKind,
    grant_types: Sequence[str],
    scope: str,
    auth_method: str,
    redirect_uris: Sequence[str] = (),
    org_id: str | None = None,
    tins: Sequence[str] = (),
    jwks: dict[str, Any] | None = None,
    post_logout_redirect_uris: Sequence[str] = (),
    backchannel_logout_uri: str | None = None,
    resources: Sequence[str] = (),
) -> tuple[Client, str | None]:
    """Register a client; returns it and its secret in clear, shown only this once.

    `resources` are the RFC 8707 resources (plans' APIs) it may use, its default first."""
    _check_client_shape(kind, auth_method, jwks, org_id)
    _check_logout_uris(grant_types, post_logout_redirect_uris, backchannel_logout_uri)
    known_resources(settings, resources)
    if await session.get(Client, client_id) is not None:
        raise ValueError(f"the client id {client_id!r} is taken")
    secret = generate_secret() if auth_method.startswith("client_secret") else None
    client = Client(
        client_id=client_id,
        name=name,
        token_endpoint_auth_method=auth_method,
        secret_digest=client_secret_digest(secret, settings.client_secret_pepper)
        if secret
        else None,
        redirect_uris=list(redirect_uris),
        post_logout_redirect_uris=list(post_logout_redirect_uris),
        grant_types=list(grant_types),
        response_types=["code"] if "authorization_code" in grant_types else [],
        scope=scope,
        jwks=jwks,
        organization_id=org_id,
        backchannel_logout_uri=backchannel_logout_uri,
        resources=list(dict.fromkeys(resources)),
    )
    if tins:
        if org_id is None:
            raise ValueError("only a client owned by an organization can be granted Tax IDs")
        client.tax_ids = await _organization_tins(session, org_id, tins)
    session.add(client)
    await session.flush()
    await _audit(session, "client.created", "client", client_id, organization_id=org_id, kind=kind)
    return client, secret


async def set_client_resources(
    session: AsyncSession, settings: Settings, client_id: str, resources: Sequence[str]
) -> Client:
    """The resources a client may use from its next token on (an empty list: none)."""
    client = await session.get(Client, client_id)
    if client is None:
        raise ValueError(f"there is no client {client_id!r}")
    before = list(client.resources)
    client.resources = known_resources(settings, resources)
    await session.flush()
    await _audit(
        session,
        "client.resources_changed",
        "client",
        client_id,
        organization_id=client.organization_id,
        before=before,
        after=list(client.resources),
    )
    return client


def known_resources(settings: Settings, resources: Sequence[str]) -> list[str]:
    """`resources` without repeats, each one of the configured (IDENTITY_RESOURCES)."""
    unknown = [r for r in resources if r not in settings.resources]
    if unknown:
        known = ", ".join(settings.resources) or "none configured"
        raise ValueError(f"unknown resource {', '.join(unknown)}; known: {known}")
    return list(dict.fromkeys(resources))


def _check_logout_uris(
    grant_types: Sequence[str],
    post_logout_redirect_uris: Sequence[str],
    backchannel_logout_uri: str | None,
) -> None:
    """Logout URIs are absolute http(s) URIs without a fragment (Back-Channel Logout
    §2.2, RP-Initiated Logout §3.1), and a back-channel logout URI is for a client that
    signs people in (authorization_code). Its origin may differ from the redirect URIs'
    (identity may reach a portal at an internal address)."""
    for uri in [*post_logout_redirect_uris, *filter(None, [backchannel_logout_uri])]:
        parts = urlsplit(uri)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
            raise ValueError(f"{uri!r} must be an absolute http(s) URI without a fragment")
    if backchannel_logout_uri is not None and "authorization_code" not in grant_types:
        raise ValueError("a back-channel logout URI is for clients with authorization_code")


def _check_client_shape(
    kind: str, auth_method: str, jwks: dict[str, Any] | None, org_id: str | None
) -> None:
    if auth_method not in AUTH_METHODS:
        raise ValueError(f"auth method must be one of {', '.join(AUTH_METHODS)}")
    if (kind == "public") != (auth_method == "none"):
        raise ValueError("public clients, and only they, use auth method none")
    if auth_method == "private_key_jwt" and not jwks:
        raise ValueError("private_key_jwt needs the client's public keys (JWKS)")
    if kind == "integrator" and org_id is None:
        raise ValueError("an integrator client belongs to an organization")
