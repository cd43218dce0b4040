"""`make run`: the whole stack on this machine, on SQLite by default.

Migrates and seeds identity and two demo plans (Cascade Health Plan and Summit
Health Plan, each with its own database, eligibility, claims and gateway serving
its portal), prints every URL, demo login and client, and stops them all on
Ctrl-C. `DATABASE_URL=postgresql+asyncpg://...` runs identity and Cascade on
PostgreSQL (each service keeps its own Alembic version table, so one database can
hold both); Summit's data is a database of its own, `SUMMIT_DATABASE_URL`
(`data/summit.db` by default).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from deploy.stack import Stack, sqlite_url  # noqa: E402
from identity.settings import CASCADE_RESOURCE, SUMMIT_RESOURCE  # noqa: E402

USERS = [
    ("ever.admin", "Evergreen Family Clinic", "administrator, TINs 12-3456789 and 98-7654321"),
    ("sam.biller", "Evergreen Family Clinic", "subscriber (billing), TIN 12-3456789 only"),
    (
        "hana.harb",
        "Harbor Billing Services",
        "subscriber (billing), TIN 55-5000111: no provider record at the plan",
    ),
    ("ops.olivia", "TINpass", "operator: verifies registrations, approves TINs held elsewhere"),
]


def banner(stack: Stack) -> str:
    creds = stack.credentials()
    gateway, issuer = stack.url("gateway"), stack.issuer
    lines = [
        "",
        "TINpass is running.",
        "",
        f"  identity (OpenID Provider)  {issuer}",
        f"      discovery: {issuer}/.well-known/openid-configuration",
        f"  eligibility API             {stack.url('eligibility')}",
        f"  claims API                  {stack.url('claims')}",
        f"  gateway (the plan's edge)   {gateway}   /eligibility/... and /claims/...",
        "",
        "Portals (sign in with TINpass; one login opens both):",
        f"  Cascade Health Plan   {gateway}/portal/   provider records for 12-3456789 and "
        "98-7654321",
        f"  Summit Health Plan    {stack.url('summit-gateway')}/portal/   of the demo TINs, "
        "only 98-7654321 has a provider record",
        f"      (its own eligibility {stack.url('summit-eligibility')} and claims "
        f"{stack.url('summit-claims')})",
        "  sam.biller sees the portal at Cascade and the explained refusal at Summit;",
        "  signing out at one plan signs you out of the other (back-channel logout).",
        "",
        "Demo logins (password for all: Demo.Passw0rd-2026):",
    ]
    lines += [f"  {user:<11} {org}: {what}" for user, org, what in USERS]
    lines += [
        "",
        "Clients:",
        f"  cascade-portal   confidential, code flow; secret: {creds['cascade-portal']}",
        f"  summit-portal    confidential, code flow; secret: {creds.get('summit-portal', '')}",
        "  tinpass-cli      public, PKCE; `make login` signs in through your browser",
        "  acme-integrator  private_key_jwt, client_credentials;",
        f"                   private key: {creds['acme-integrator-key-path']}",
        f"  acme-curl        client_credentials; secret: {creds['acme-curl']}",
        "",
        "Try it:",
        f"  TOKEN=$(curl -s -u acme-curl:{creds['acme-curl']} -d grant_type=client_credentials "
        f"-d scope=claims:read -d resource={CASCADE_RESOURCE} {issuer}/token | python3 -c "
        "'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')",
        f'  curl -s -H "Authorization: Bearer $TOKEN" {gateway}/claims/v1/claims',
        f"  (each plan's APIs are their own resource: resource={SUMMIT_RESOURCE} for a token "
        f"that {stack.url('summit-gateway')} accepts)",
        "  make login    (in another terminal: sign in as a person, then call the gateway)",
        "",
        f"Your account (password, e-mail, two-step sign-in, sessions): {issuer}/account",
        f"Register an organization: {issuer}/register   "
        f"(then verify it as ops.olivia at {issuer}/console/operator)",
        f"Administration console (try ever.admin): {issuer}/console",
        f"Forgot password: {issuer}/forgot-password   (mail lands in {stack.data_dir / 'outbox'})",
        "",
        f"Data folder: {stack.data_dir}   logs: {stack.log_dir}",
        "Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(lines)


async def main() -> None:
    data = Path(os.environ.get("TINPASS_DATA_DIR", ROOT / "data"))
    database = os.environ.get("DATABASE_URL")
    stack = Stack(
        data_dir=data,
        identity_db=database or sqlite_url(data / "identity.db"),
        plan_db=database or sqlite_url(data / "plan.db"),
        summit_db=os.environ.get("SUMMIT_DATABASE_URL") or sqlite_url(data / "summit.db"),
        log_dir=data / "logs",
    )
    print("Migrating and seeding the demo data...")
    await stack.prepare()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stack.start()
        print(banner(stack))
        waiters = [asyncio.create_task(p.wait()) for p in stack.processes.values()]
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([stopper, *waiters], return_when=asyncio.FIRST_COMPLETED)
        if stopper not in done:
            print("A service stopped unexpectedly; see the logs above. Stopping the others.")
    finally:
        print("Stopping...")
        with contextlib.suppress(Exception):
            await stack.stop()


if __name__ == "__main__":
    asyncio.run(main())
