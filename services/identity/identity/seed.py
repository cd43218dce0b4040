"""The demo organizations, users and clients of docs/demo-data.md.

Idempotent: a second run changes nothing and returns the same credentials, read
back from `demo-credentials.json` (mode 0600) in the data folder.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc.jwk import RSAKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from identity import admin_ops
from identity.keys import ensure_keys
from identity.models import Client, TaxId
from identity.security import client_secret_digest, generate_secret
from identity.settings import Settings

PASSWORD = "Demo.Passw0rd-2026"
USER_SCOPE = "openid profile email offline_access eligibility:read claims:read"
API_SCOPE = "eligibility:read claims:read"


@dataclass(frozen=True)
class DemoCredentials:
    portal_secret: str
    curl_secret: str
    integrator_key_path: str

    def as_json(self) -> dict[str, str]:
        return {
            "cascade-portal": self.portal_secret,
            "acme-curl": self.curl_secret,
            "acme-integrator-key-path": self.integrator_key_path,
        }


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


async def seed_demo(session: AsyncSession, settings: Settings, data_dir: Path) -> DemoCredentials:
    await ensure_keys(session, settings)
    credentials_file = data_dir / "demo-credentials.json"
    if await session.scalar(select(TaxId).where(TaxId.tin == "123456789")) is not None:
        if credentials_file.exists():
            stored = json.loads(credentials_file.read_text())
            return DemoCredentials(
                stored["cascade-portal"], stored["acme-curl"], stored["acme-integrator-key-path"]
            )
        return await _reset_secrets(session, settings, data_dir)
    evergreen, harbor = await _organizations(session)
    await _users(session, settings, evergreen, harbor)
    credentials = await _clients(session, settings, evergreen, data_dir)
    _write_private(credentials_file, json.dumps(credentials.as_json(), indent=2))
    return credentials


async def _organizations(session: AsyncSession) -> tuple[str, str]:
    evergreen = await admin_ops.create_organization(session, "Evergreen Family Clinic")
    await admin_ops.add_tax_id(session, evergreen.id, "123456789", "Evergreen Family Clinic")
    await admin_ops.add_tax_id(session, evergreen.id, "987654321", "Evergreen Pediatrics")
    harbor = await admin_ops.create_organization(session, "Harbor Billing Services")
    await admin_ops.add_tax_id(session, harbor.id, "555000111", "Harbor Billing Services")
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


async def _clients(
    session: AsyncSession, settings: Settings, evergreen: str, data_dir: Path
) -> DemoCredentials:
    _, portal_secret = await admin_ops.create_client(
        session,
        settings,
        "cascade-portal",
        "Cascade Health Plan portal",
        kind="confidential",
        grant_types=["authorization_code", "refresh_token"],
        scope=USER_SCOPE,
        auth_method="client_secret_basic",
        redirect_uris=[
            "http://127.0.0.1:8080/portal/callback",
            "http://localhost:8080/portal/callback",
        ],
        post_logout_redirect_uris=["http://127.0.0.1:8080/", "http://localhost:8080/"],
    )
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
    )
    console = settings.issuer.rstrip("/") + "/console/callback"
    await admin_ops.create_client(
        session,
        settings,
        "tinpass-console",
        "TINpass administration",
        kind="public",
        grant_types=["authorization_code"],
        scope="openid profile tinpass:admin",
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
        scope=API_SCOPE,
        auth_method="private_key_jwt",
        org_id=evergreen,
        tins=["987654321"],
        jwks={"keys": [public]},
    )
    _, curl_secret = await admin_ops.create_client(
        session,
        settings,
        "acme-curl",
        "Evergreen's scripts",
        kind="integrator",
        grant_types=["client_credentials"],
        scope=API_SCOPE,
        auth_method="client_secret_basic",
        org_id=evergreen,
        tins=["123456789", "987654321"],
    )
    key_path = data_dir / "acme-integrator.private.jwk.json"
    _write_private(key_path, json.dumps(private, indent=2))
    assert portal_secret is not None and curl_secret is not None
    return DemoCredentials(portal_secret, curl_secret, str(key_path))


async def _reset_secrets(
    session: AsyncSession, settings: Settings, data_dir: Path
) -> DemoCredentials:
    """The demo exists but its credentials file is gone: issue new demo secrets."""
    secrets = {}
    for client_id in ("cascade-portal", "acme-curl"):
        client = await session.get(Client, client_id)
        assert client is not None
        secrets[client_id] = generate_secret()
        client.secret_digest = client_secret_digest(
            secrets[client_id], settings.client_secret_pepper
        )
    key_path = str(data_dir / "acme-integrator.private.jwk.json")
    credentials = DemoCredentials(secrets["cascade-portal"], secrets["acme-curl"], key_path)
    _write_private(data_dir / "demo-credentials.json", json.dumps(credentials.as_json(), indent=2))
    return credentials
