"""`identity`: the operator command line of the identity service.

Each command is one transaction against the database named by DATABASE_URL.
Passwords are read from the terminal or standard input, never from arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from identity import accounts, admin_ops, audit, cli_lists, plan_roles, suspensions
from identity.db import create_engine, migrate, session_factory
from identity.janitor import Janitor
from identity.keys import published_keys, rotate_keys
from identity.models import Organization, SigningKey, User
from identity.seed import seed_demo
from identity.settings import Settings
from policy import trails

Command = Callable[[AsyncSession, Settings, argparse.Namespace], Awaitable[Any]]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="identity", description="Operate the TINpass identity service."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("migrate", help="bring the database schema up to date (Alembic)")
    org = commands.add_parser("create-org", help="create an organization")
    org.add_argument("name")
    org.add_argument("--parent", help="id of the parent organization (for a sub-organization)")
    tin = commands.add_parser(
        "add-tin", help="add a Tax ID to an organization, verified by you (the operator)"
    )
    tin.add_argument("org_id")
    tin.add_argument("tin", help="nine digits, e.g. 12-3456789")
    tin.add_argument("--label", default="")
    user = commands.add_parser(
        "create-user", help="create a user (password asked for, or --password-stdin)"
    )
    user.add_argument("username")
    user.add_argument("email")
    user.add_argument("--given-name", default="")
    user.add_argument("--family-name", default="")
    user.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    member = commands.add_parser(
        "add-membership", help="let a user act for an organization and some of its TINs"
    )
    member.add_argument("user_id")
    member.add_argument("org_id")
    member.add_argument("--role", choices=admin_ops.ROLES, default="subscriber")
    member.add_argument(
        "--tin", action="append", default=[], help="a TIN the user may act for (repeatable)"
    )
    member.add_argument(
        "--plan-role",
        action="append",
        default=[],
        choices=plan_roles.choices(),
        help="a plan role (repeatable)",
    )
    client = commands.add_parser(
        "create-client", help="register an OAuth client (prints a secret once)"
    )
    client.add_argument("client_id")
    client.add_argument("name")
    client.add_argument("--kind", choices=["confidential", "public", "integrator"], required=True)
    client.add_argument("--auth-method", choices=admin_ops.AUTH_METHODS, required=True)
    client.add_argument("--grant-type", action="append", required=True)
    client.add_argument("--scope", required=True)
    client.add_argument("--redirect-uri", action="append", default=[])
    client.add_argument(
        "--post-logout-redirect-uri",
        action="append",
        default=[],
        help="where RP-initiated logout may send the browser (repeatable)",
    )
    client.add_argument(
        "--backchannel-logout-uri",
        help="where logout tokens are posted when a session ends (same origin as a redirect URI)",
    )
    client.add_argument("--org-id")
    client.add_argument("--tin", action="append", default=[])
    client.add_argument(
        "--jwks-file", type=Path, help="the client's public keys, for private_key_jwt"
    )
    client.add_argument(
        "--resource",
        action="append",
        default=[],
        help="a plan's API (RFC 8707 resource) it may use, the first its default (repeatable)",
    )
    resources = commands.add_parser(
        "set-resources",
        help="the plans' APIs (RFC 8707 resources) a client may use, its default first",
    )
    resources.add_argument("client_id")
    resources.add_argument("resource", nargs="*", help="known resources (IDENTITY_RESOURCES)")
    cli_lists.add_parsers(commands)
    seed = commands.add_parser("seed-demo", help="create the demo data (idempotent)")
    seed.add_argument("--data-dir", type=Path, default=Path("data"))
    seed.add_argument(
        "--portal",
        action="append",
        default=[],
        metavar="CLIENT_ID=BASE_URL",
        help="a demo portal's gateway URL, e.g. summit-portal=http://127.0.0.1:8081 "
        "(its redirect and logout URIs follow it)",
    )
    rotate = commands.add_parser(
        "rotate-keys",
        help="promote the next signing keys (one per algorithm) and prepare new ones",
    )
    rotate.add_argument(
        "--alg", choices=["RS256", "ES256"], help="ID tokens' algorithm for the new next keys"
    )
    rotate.add_argument(
        "--force",
        action="store_true",
        help="promote the next key even if it was published less than "
        "key_publication_lead_seconds ago (after a key compromise)",
    )
    commands.add_parser("list-keys", help="list signing keys and their state")
    commands.add_parser(
        "janitor",
        help="delete expired codes, refresh tokens, SSO sessions, assertion ids and "
        "deny-list entries (one round, in batches)",
    )
    unlock = commands.add_parser("unlock", help="unlock an account locked after failed sign-ins")
    unlock.add_argument("username")
    suspend = commands.add_parser("suspend", help="suspend an account: its sessions end at once")
    suspend.add_argument("username")
    reactivate = commands.add_parser(
        "reactivate", help="lift a suspension, whoever made it (operator level)"
    )
    reactivate.add_argument("username")
    policy = commands.add_parser(
        "set-org-security", help="an organization's password policy and MFA rule"
    )
    policy.add_argument("org_id")
    policy.add_argument("--password-policy", choices=["nist", "payer-classic", "default"])
    policy.add_argument("--require-mfa", choices=["yes", "no"])
    audit_commands = trails.add_commands(
        commands, "verify, seal, watch or export the tamper-evident audit trail"
    )
    exporter = audit_commands.add_parser(
        "export", help="export events of a date range as JSON lines or CSV"
    )
    exporter.add_argument(
        "--from", dest="start", type=date.fromisoformat, required=True, help="YYYY-MM-DD"
    )
    exporter.add_argument(
        "--to", dest="end", type=date.fromisoformat, required=True, help="YYYY-MM-DD, inclusive"
    )
    exporter.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    exporter.add_argument("--output", type=Path, help="file to write (default: standard output)")
    return parser


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat the password: "):
        raise ValueError("the two passwords differ")
    return first


async def _create_user(session: AsyncSession, settings: Settings, args: argparse.Namespace) -> str:
    password = _password(args)
    user = await admin_ops.create_user(
        session, settings, args.username, args.email, password, args.given_name, args.family_name
    )
    return f"user {user.id}"


async def _create_client(
    session: AsyncSession, settings: Settings, args: argparse.Namespace
) -> str:
    jwks = json.loads(args.jwks_file.read_text()) if args.jwks_file else None
    client, secret = await admin_ops.create_client(
        session,
        settings,
        args.client_id,
        args.name,
        kind=args.kind,
        grant_types=args.grant_type,
        scope=args.scope,
        auth_method=args.auth_method,
        redirect_uris=args.redirect_uri,
        post_logout_redirect_uris=args.post_logout_redirect_uri,
        backchannel_logout_uri=args.backchannel_logout_uri,
        org_id=args.org_id,
        tins=args.tin,
        jwks=jwks,
        resources=args.resource,
    )
    shown = f"\nclient secret (shown once): {secret}" if secret else ""
    return f"client {client.client_id}{shown}"


async def _list_keys(session: AsyncSession, settings: Settings, args: argparse.Namespace) -> str:
    rows = await session.scalars(select(SigningKey).order_by(SigningKey.created_at))
    return (
        "\n".join(
            f"{k['kid']}  {k['alg']}  {r.status:<8} publish_until={r.publish_until or '-'}"
            for r in rows
            for k in published_keys(r)
        )
        or "no keys"
    )


async def _seed(session: AsyncSession, settings: Settings, args: argparse.Namespace) -> str:
    portals = dict(item.split("=", 1) for item in args.portal if "=" in item)
    credentials = await seed_demo(session, settings, args.data_dir, portals)
    where = args.data_dir / "demo-credentials.json"
    return (
        f"demo ready; credentials in {where}, integrator key in {credentials.integrator_key_path}"
    )


class AuditBroken(Exception):
    """The chain does not verify; the message names the first bad event."""


async def _audit(session: AsyncSession, settings: Settings, args: argparse.Namespace) -> str:
    if args.audit_command == "verify":
        ok, said = await audit.OPERATIONS.checked(session, audit.vault(settings), args.public_key)
        if not ok:
            raise AuditBroken(said)
        return said
    if args.audit_command == "seal":
        ok, said = await audit.OPERATIONS.sealed(session, audit.vault(settings))
        if not ok:
            raise ValueError(said)
        return said
    if args.audit_command == "status":
        return (await audit.status(session)).describe()
    start = datetime.combine(args.start, time.min, UTC)
    end = datetime.combine(args.end + timedelta(days=1), time.min, UTC)
    lines = [line async for line in audit.export(session, start, end, args.format)]
    if args.output is None:
        return "".join(lines).rstrip("\n")
    args.output.write_text("".join(lines))
    return f"wrote {len(lines) - (args.format == 'csv')} events to {args.output}"


async def _user(session: AsyncSession, username: str) -> User:
    user = await session.scalar(select(User).where(User.username_normalized == username.casefold()))
    if user is None:
        raise ValueError(f"there is no user {username!r}")
    return user


async def _unlock(session: AsyncSession, settings: Settings, args: argparse.Namespace) -> str:
    await accounts.unlock(session, await _user(session, args.username), "operator", "cli")
    return f"{args.username} is unlocked"


async def _suspend(session: AsyncSession, settings: Settings, args: argparse.Namespace) -> str:
    user = await _user(session, args.username)
    ended = await suspensions.by_operator(session, user, True, ("operator", "cli"))
    return f"{args.username} is suspended (operator level); {ended} sessions ended"


async def _reactivate(session: AsyncSession, settings: Settings, args: argparse.Namespace) -> str:
    user = await _user(session, args.username)
    if user.status != "suspended":
        raise ValueError(f"{args.username} is not suspended")
    await suspensions.by_operator(session, user, False, ("operator", "cli"))
    return f"{args.username} is active again"


async def _org_security(session: AsyncSession, settings: Settings, args: argparse.Namespace) -> str:
    org = await session.get(Organization, args.org_id)
    if org is None:
        raise ValueError(f"there is no organization {args.org_id}")
    before = {"password_policy": org.password_policy, "mfa_required": org.mfa_required}
    if args.password_policy:
        org.password_policy = None if args.password_policy == "default" else args.password_policy
    if args.require_mfa:
        org.mfa_required = args.require_mfa == "yes"
    after = {"password_policy": org.password_policy, "mfa_required": org.mfa_required}
    await audit.record(
        session,
        "organization.security_changed",
        actor_type="operator",
        actor_id="cli",
        organization_id=org.id,
        target_type="organization",
        target_id=org.id,
        details={"before": before, "after": after},
    )
    policy = org.password_policy or "deployment default"
    return f"{org.name}: password policy {policy}, MFA required {org.mfa_required}"


COMMANDS: dict[str, Command] = {
    "create-org": lambda s, _, a: _describe(
        admin_ops.create_organization(s, a.name, a.parent), "organization"
    ),
    "add-tin": lambda s, _, a: _describe(
        admin_ops.add_tax_id(s, a.org_id, a.tin, a.label), "tax id"
    ),
    "create-user": _create_user,
    "add-membership": lambda s, _, a: _describe(
        admin_ops.add_membership(s, a.user_id, a.org_id, a.role, a.tin, a.plan_role), "membership"
    ),
    "create-client": _create_client,
    "set-resources": lambda s, settings, a: _describe(
        admin_ops.set_client_resources(s, settings, a.client_id, a.resource),
        "resources of the client are now",
        "resources",
    ),
    "seed-demo": _seed,
    "rotate-keys": lambda s, settings, a: _describe(
        rotate_keys(s, settings, a.alg, force=a.force), "active key", "kid"
    ),
    "list-keys": _list_keys,
    "audit": _audit,
    "unlock": _unlock,
    "suspend": _suspend,
    "reactivate": _reactivate,
    "set-org-security": _org_security,
    "list-orgs": cli_lists.listing,
    "list-people": cli_lists.listing,
    "list-clients": cli_lists.listing,
}


async def _describe(created: Awaitable[Any], what: str, attribute: str = "id") -> str:
    return f"{what} {getattr(await created, attribute)}"


async def _run(command: Command, settings: Settings, args: argparse.Namespace) -> str:
    engine = create_engine(settings.database_url, pool=settings.without_statement_timeout())
    try:
        async with session_factory(engine)() as session:
            message: str = await command(session, settings, args)
            await session.commit()
            return message
    finally:
        await engine.dispose()


async def _janitor(settings: Settings) -> str:
    """One janitor round; each batch is its own transaction (`identity.janitor`)."""
    engine = create_engine(settings.database_url, pool=settings.without_statement_timeout())
    try:
        deleted = await Janitor(session_factory(engine), settings).sweep()
    finally:
        await engine.dispose()
    return "\n".join(f"{table}: {count} deleted" for table, count in deleted.items())


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = Settings()
    if (problem := cli_lists.database_problem(settings, args.command)) is not None:
        print(problem, file=sys.stderr)
        return 2
    try:
        if args.command == "migrate":
            migrate(settings.database_url)
            print("database is up to date")
            return 0
        if args.command == "janitor":
            print(asyncio.run(_janitor(settings)))
            return 0
        print(asyncio.run(_run(COMMANDS[args.command], settings, args)))
    except ValueError as error:
        print(f"identity {args.command}: {error}", file=sys.stderr)
        return 2
    except AuditBroken as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
