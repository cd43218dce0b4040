"""The demo organizations, users and clients of docs/demo-data.md.

Idempotent: a second run changes nothing and returns the same credentials, read
back from `demo-credentials.json` (mode 0600) in the data folder.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from joserfc.jwk import RSAKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from identity import admin_ops
from identity.keys import ensure_keys
from identity.models import Client, TaxId
from identity.security import client_secret_digest, generate_secret
from identity.settings import CASCADE_RESOURCE, SUMMIT_RESOURCE, Settings
from policy.names import Scope

PASSWORD = "Demo.Passw0rd-2026"
USER_SCOPE = " ".join((Scope.OPENID, Scope.PROFILE, Scope.EMAIL, Scope.OFFLINE_ACCESS, *Scope.API))
# The two plans' portals (served by each plan's gateway): client id -> (name, default base URL).
PORTALS = {
    "cascade-portal": ("Cascade Health Plan portal", "http://127.0.0.1:8080"),
    "summit-portal": ("Summit Health Plan portal", "http://127.0.0.1:8081"),
}
# RFC 8707: the plans' APIs each demo client may use, its default first. A plan's portal
# gets tokens for its own plan only; the command line and the integrators may use both.
BOTH_PLANS = [CASCADE_RESOURCE, SUMMIT_RESOURCE]
RESOURCES = {
    "cascade-portal": [CASCADE_RESOURCE],
    "summit-portal": [SUMMIT_RESOURCE],
    "tinpass-cli": BOTH_PLANS,
    "tinpass-console": [],
    "acme-integrator": BOTH_PLANS,
    "acme-curl": BOTH_PLANS,
}


@dataclass(frozen=True)
class DemoCredentials:
    portal_secret: str
    curl_secret: str
    integrator_key_path: str
    summit_portal_secret: str = ""

    def as_json(self) -> dict[str, str]:
        return {
            "cascade-portal": self.portal_secret,
            "summit-portal": self.summit_portal_secret,
            "acme-curl": self.curl_secret,
            "acme-integrator-key-path": self.integrator_key_path,
        }


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


async def seed_demo(
    session: AsyncSession,
    settings: Settings,
    data_dir: Path,
    portals: Mapping[str, str] | None = None,
) -> DemoCredentials:
    """`portals` maps a portal client id to its gateway's base URL (its redirect URIs follow)."""
    unknown = sorted(set(portals or {}) - set(PORTALS))
    if unknown:
        raise ValueError(f"no demo portal named {', '.join(unknown)}; known: {', '.join(PORTALS)}")
    await ensure_keys(session, settings)
    bases = {client_id: base for client_id, (_, base) in PORTALS.items()} | dict(portals or {})
    credentials_file = data_dir / "demo-credentials.json"
    if await session.scalar(select(TaxId).where(TaxId.tin == "123456789")) is not None:
        if credentials_file.exists():
            stored = json.loads(credentials_file.read_text())
            credentials = DemoCredentials(
                stored["cascade-portal"],
                stored["acme-curl"],
                stored["acme-integrator-key-path"],
                stored.get("summit-portal", ""),
            )
        else:
            credentials = await _reset_secrets(session, settings, data_dir)
        synced = await _sync_portals(session, settings, bases, credentials)
        _write_private(credentials_file, json.dumps(synced.as_json(), indent=2))
        return synced
    operator = await admin_ops.create_user(
        session, settings, "ops.olivia", "olivia@tinpass.example", PASSWORD, "Olivia", "Okafor"
    )
    operator.is_operator = True  # a TINpass operator: verifies registrations and TINs
    evergreen, harbor = await _organizations(session, operator.id)
    await _users(session, settings, evergreen, harbor)
    credentials = await _clients(session, settings, evergreen, data_dir, bases)
    _write_private(credentials_file, json.dumps(credentials.as_json(), indent=2))
    return credentials


async def _organizations(session: AsyncSession, operator_id: str) -> tuple[str, str]:
    """The demo organizations and their TINs, verified by the demo operator."""
    evergreen = await admin_ops.create_organization(session, "Evergreen Family Clinic")
    harbor = await admin_ops.create_organization(session, "Harbor Billing Services")
    for org, tin, label in (
        (evergreen.id, "123456789", "Evergreen Family Clinic"),
        (evergreen.id, "987654321", "Evergreen Pediatrics"),
        (harbor.id, "555000111", "Harbor Billing Services"),
    ):
        await admin_ops.add_tax_id(session, org, tin, label, verified_by=operator_id)
    return evergreen.id, harbor.id


async def _users(session: AsyncSession, settings: Settings, evergreen: str, harbor: str) -> None:
    people = [
        (
            "ever.admin",
            "eve.admin@evergreen.example",
            "Eve",
            "Alvarez",
            evergreen,
            "administrator",
            ["123456789", "987654321"],
            ["billing", "clinical"],
        ),
        (
            "sam.biller",
            "sam.biller@evergreen.example",
            "Sam",
            "Biller",
            evergreen,
            "subscriber",
            ["123456789"],
            ["billing"],
        ),
        (
            "hana.harb",
            "hana@harborbilling.example",
            "Hana",
            "Haruki",
            harbor,
            "subscriber",
            ["555000111"],
            ["billing"],
        ),
    ]
    for username, email, given, family, org, role, tins, plan_roles in people:
        user = await admin_ops.create_user(
            session, settings, username, email, PASSWORD, given, family
        )
        await admin_ops.add_membership(session, user.id, org, role, tins, plan_roles)


def _portal_uris(base: str) -> dict[str, Any]:
    """A portal's redirect, post-logout and back-channel logout URIs under its gateway's URL."""
    base = base.rstrip("/")
    bases = [base, base.replace("//127.0.0.1:", "//localhost:")]
    return {
        "redirect_uris": list(dict.fromkeys(b + "/portal/callback" for b in bases)),
        "post_logout_redirect_uris": list(
            dict.fromkeys(u for b in bases for u in (b + "/", b + "/portal/signed-out"))
        ),
        "backchannel_logout_uri": base + "/portal/backchannel-logout",
    }


async def _portal_client(
    session: AsyncSession, settings: Settings, client_id: str, base: str
) -> str:
    _, secret = await admin_ops.create_client(
        session,
        settings,
        client_id,
        PORTALS[client_id][0],
        kind="confidential",
        grant_types=["authorization_code", "refresh_token"],
        scope=USER_SCOPE,
        auth_method="client_secret_basic",
        resources=RESOURCES[client_id],
        **_portal_uris(base),
    )
    assert secret is not None
    return secret


async def _sync_portals(
    session: AsyncSession, settings: Settings, bases: Mapping[str, str], known: DemoCredentials
) -> DemoCredentials:
    """On a second run: portals' URIs follow the gateways' URLs; a missing portal is added;
    the demo clients' resources are as in RESOURCES (data seeded before RFC 8707 had none)."""
    for client_id, resources in RESOURCES.items():
        existing = await session.get(Client, client_id)
        if existing is not None:
            existing.resources = list(resources)
    for client_id, base in bases.items():
        client = await session.get(Client, client_id)
        if client is None:
            secret = await _portal_client(session, settings, client_id, base)
            if client_id == "summit-portal":
                known = replace(known, summit_portal_secret=secret)
            continue
        uris = _portal_uris(base)
        client.redirect_uris = uris["redirect_uris"]
        client.post_logout_redirect_uris = uris["post_logout_redirect_uris"]
        client.backchannel_logout_uri = uris["backchannel_logout_uri"]
    await session.flush()
    return known


async def _clients(
    session: AsyncSession,
    settings: Settings,
    evergreen: str,
    data_dir: Path,
    bases: Mapping[str, str],
) -> DemoCredentials:
    portal_secret = await _portal_client(
        session, settings, "cascade-portal", bases["cascade-portal"]
    )
    summit_secret = await _portal_client(session, settings, "summit-portal", bases["summit-portal"])
    await admin_ops.create_client(
        session,
        settings,
        "tinpass-cli",
        "TINpass command line",
        kind="public",
        grant_types=["authorization_code", "refresh_token"],
        scope=USER_SCOPE,
        auth_method="none",
        redirect_uris=["http://127.0.0.1:8765/callback"],
        resources=RESOURCES["tinpass-cli"],
    )
    console = settings.issuer.rstrip("/") + "/console/callback"
    await admin_ops.create_client(
        session,
        settings,
        "tinpass-console",
        "TINpass administration",
        kind="public",
        grant_types=["authorization_code"],
        scope=" ".join((Scope.OPENID, Scope.PROFILE, Scope.ADMIN)),
        auth_method="none",
        redirect_uris=[console, "http://127.0.0.1:8766/callback"],
    )
    key = RSAKey.generate_key(2048, parameters={"alg": "RS256", "use": "sig"}, private=True)
    private: dict[str, Any] = {**key.as_dict(private=True), "kid": key.thumbprint()}
    public = {k: v for k, v in private.items() if k not in {"d", "p", "q", "dp", "dq", "qi"}}
    await admin_ops.create_client(
        session,
        settings,
        "acme-integrator",
        "Evergreen's claims integration",
        kind="integrator",
        grant_types=["client_credentials"],
        scope=admin_ops.API_SCOPE,
        auth_method="private_key_jwt",
        org_id=evergreen,
        tins=["987654321"],
        jwks={"keys": [public]},
        resources=RESOURCES["acme-integrator"],
    )
    _, curl_secret = await admin_ops.create_client(
        session,
        settings,
        "acme-curl",
        "Evergreen's scripts",
        kind="integrator",
        grant_types=["client_credentials"],
        scope=admin_ops.API_SCOPE,
        auth_method="client_secret_basic",
        org_id=evergreen,
        tins=["123456789", "987654321"],
        resources=RESOURCES["acme-curl"],
    )
    key_path = data_dir / "acme-integrator.private.jwk.json"
    _write_private(key_path, json.dumps(private, indent=2))
    assert curl_secret is not None
    return DemoCredentials(portal_secret, curl_secret, str(key_path), summit_secret)


async def _reset_secrets(
    session: AsyncSession, settings: Settings, data_dir: Path
) -> DemoCredentials:
    """The demo exists but its credentials file is gone: issue new demo secrets."""
    secrets = {}
    for client_id in ("cascade-portal", "summit-portal", "acme-curl"):
        client = await session.get(Client, client_id)
        if client is None:
            continue
        secrets[client_id] = generate_secret()
        client.secret_digest = client_secret_digest(
            secrets[client_id], settings.client_secret_pepper
        )
    key_path = str(data_dir / "acme-integrator.private.jwk.json")
    credentials = DemoCredentials(
        secrets["cascade-portal"], secrets["acme-curl"], key_path, secrets.get("summit-portal", "")
    )
    _write_private(data_dir / "demo-credentials.json", json.dumps(credentials.as_json(), indent=2))
    return credentials
