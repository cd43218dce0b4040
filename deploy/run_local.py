"""`make run`: the whole stack on this machine, on SQLite by default.

Migrates and seeds identity and two demo plans (Cascade Health Plan and Summit
Health Plan, each with its own database, eligibility, claims and gateway serving
its portal), prints every URL, demo login and client, and stops them all on
Ctrl-C. `DATABASE_URL=postgresql+asyncpg://...` runs identity and Cascade on
PostgreSQL (each service keeps its own Alembic version table, so one database can
hold both); Summit's data is a database of its own, `SUMMIT_DATABASE_URL`
(`data/summit.db` by default).

`TINPASS_PORT_BASE=9000` moves every port together (identity 9000, Cascade's
services 9001, 9002 and gateway 9080, Summit's 9011, 9012 and 9081), and with them
every URL, the issuer and the portals' redirect URIs. Every port is checked before
anything is migrated, seeded or started; a service that fails to start is shown with
the end of its log, and the others are stopped.
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

from deploy.stack import (  # noqa: E402
    DEFAULT_PORTS,
    PortTaken,
    Stack,
    StackError,
    ports_from_base,
    sqlite_url,
)
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
        f"  {login_command()}    (in another terminal: sign in as a person, then call the gateway)",
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


PORT_BASE = "TINPASS_PORT_BASE"


def login_command() -> str:
    base = os.environ.get(PORT_BASE)
    return f"{PORT_BASE}={base} make login" if base else "make login"


def ports() -> dict[str, int]:
    """The default ports, or all of them moved by TINPASS_PORT_BASE."""
    base = os.environ.get(PORT_BASE)
    if not base:
        return dict(DEFAULT_PORTS)
    if not base.isdigit():
        raise StackError(f"{PORT_BASE} must be a port number such as 9000, not {base!r}")
    try:
        return ports_from_base(int(base))
    except ValueError as error:
        raise StackError(f"{PORT_BASE}: {error}") from None


def taken_message(error: PortTaken) -> str:
    base = int(os.environ.get(PORT_BASE) or DEFAULT_PORTS["identity"])
    other = 9000 if base != 9000 else 10000
    return (
        f"{error} Nothing was started. Stop that process, or move every port of the "
        f"stack: `{PORT_BASE}={other} make run` puts identity on {other} and the "
        f"gateways on {other + 80} and {other + 81} (all its ports: base + 0, 1, 2, 11, "
        "12, 80, 81)."
    )


async def main() -> int:
    data = Path(os.environ.get("TINPASS_DATA_DIR", ROOT / "data"))
    database = os.environ.get("DATABASE_URL")
    try:
        stack = Stack(
            data_dir=data,
            identity_db=database or sqlite_url(data / "identity.db"),
            plan_db=database or sqlite_url(data / "plan.db"),
            summit_db=os.environ.get("SUMMIT_DATABASE_URL") or sqlite_url(data / "summit.db"),
            log_dir=data / "logs",
            ports=ports(),
            start_within=60,  # seven processes start at once; a cold start can be slow
        )
        stack.check_ports()  # before migrating or seeding anything
    except PortTaken as error:
        print(taken_message(error), file=sys.stderr)
        return 1
    except StackError as error:
        print(error, file=sys.stderr)
        return 1
    print("Migrating and seeding the demo data...")
    await stack.prepare()
    return await run(stack)


async def run(stack: Stack) -> int:
    """Start the stack, show the banner and run until Ctrl-C or a service stops."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        try:
            await stack.start()
        except PortTaken as error:  # taken since the check: by another program
            print(taken_message(error), file=sys.stderr)
            return 1
        except StackError as error:
            print(
                f"TINpass did not start: {error}\nThe other services were stopped.", file=sys.stderr
            )
            return 1
        print(banner(stack), flush=True)
        return await _until_stopped(stack, stop)
    finally:
        print("Stopping...")
        with contextlib.suppress(Exception):
            await stack.stop()


async def _until_stopped(stack: Stack, stop: asyncio.Event) -> int:
    waiters = {asyncio.create_task(p.wait()): n for n, p in stack.processes.items()}
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([stopper, *waiters], return_when=asyncio.FIRST_COMPLETED)
    if stopper in done:
        return 0
    name = next(waiters[task] for task in done if task in waiters)
    code = stack.processes[name].returncode
    print(
        f"{name} stopped unexpectedly (exit {code}).{stack.log_tail(name)}\nStopping the others.",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
