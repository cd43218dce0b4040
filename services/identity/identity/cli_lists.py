"""`identity list-orgs | list-people | list-clients`: what the directory holds, for an
operator at a terminal (a table) or a script (`--json`), optionally narrowed by
`--search TEXT` (case-insensitive, anywhere in the names, ids, e-mail addresses and
Tax IDs shown). Read-only: one read transaction, no audit event.

Also `database_problem(settings)`: run outside the repository without DATABASE_URL,
the default SQLite file does not exist, and the command line says what to set
instead of creating an empty database and failing on its missing tables.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from identity.models import Client, Membership, Organization, User
from identity.settings import Settings

Row = dict[str, str]
DATABASE_HELP = (
    "Set DATABASE_URL to the identity database, for example\n"
    "  DATABASE_URL=postgresql+asyncpg://tinpass@db.example/identity identity {command}\n"
    "  DATABASE_URL=sqlite+aiosqlite:////srv/tinpass/data/identity.db identity {command}\n"
    "(or run it from the directory holding data/identity.db; `identity migrate` with "
    "DATABASE_URL set creates a new database)."
)


def database_problem(settings: Settings, command: str) -> str | None:
    """Why this command cannot run against the configured database, or None."""
    url = make_url(settings.database_url)
    if not url.drivername.startswith("sqlite") or not url.database:
        return None
    path = Path(url.database)
    if path.exists() or (command == "migrate" and "DATABASE_URL" in os.environ):
        return None
    where = path if path.is_absolute() else Path.cwd() / path
    if "DATABASE_URL" in os.environ:
        why = f"DATABASE_URL names the SQLite file {where}, which does not exist."
    else:
        why = f"DATABASE_URL is not set, and there is no identity database at {where}."
    return f"identity {command}: {why}\n" + DATABASE_HELP.format(command=command)


def add_parsers(commands: Any) -> None:
    for name, what in (
        ("list-orgs", "organizations (id, name, status, Tax IDs)"),
        ("list-people", "people (username, name, e-mail, status, organizations)"),
        ("list-clients", "OAuth clients (id, name, kind of sign-in, grants, scopes)"),
    ):
        listing = commands.add_parser(name, help=f"list or search {what}")
        listing.add_argument("--search", metavar="TEXT", help="only rows containing TEXT")
        listing.add_argument("--json", action="store_true", help="a JSON array, for scripts")


def _tin(tin: str) -> str:
    return f"{tin[:2]}-{tin[2:]}"


def _organization(org: Organization) -> Row:
    return {
        "id": org.id,
        "name": org.name,
        "status": org.status,
        "parent": org.parent_id or "",
        "tax_ids": " ".join(_tin(t.tin) for t in org.tax_ids if t.status == "active"),
        "created": org.created_at.date().isoformat(),
    }


def _person(user: User) -> Row:
    return {
        "id": user.id,
        "username": user.username,
        "name": f"{user.given_name} {user.family_name}".strip(),
        "email": user.email,
        "status": user.status + (" (operator)" if user.is_operator else ""),
        "organizations": ", ".join(f"{m.organization.name} ({m.role})" for m in user.memberships),
    }


def _client(client: Client) -> Row:
    return {
        "client_id": client.client_id,
        "name": client.name,
        "authentication": client.token_endpoint_auth_method,
        "grants": " ".join(client.grant_types),
        "scope": client.scope,
        "organization": client.organization.name if client.organization else "",
    }


async def _rows(session: AsyncSession, command: str) -> list[Row]:
    if command == "list-orgs":
        orgs = await session.scalars(
            select(Organization)
            .options(selectinload(Organization.tax_ids))
            .order_by(Organization.name)
        )
        return [_organization(o) for o in orgs]
    if command == "list-people":
        memberships = selectinload(User.memberships).selectinload(Membership.organization)
        users = await session.scalars(select(User).options(memberships).order_by(User.username))
        return [_person(u) for u in users]
    clients = await session.scalars(
        select(Client).options(selectinload(Client.organization)).order_by(Client.client_id)
    )
    return [_client(c) for c in clients]


def table(rows: Sequence[Row]) -> str:
    """Columns padded to their widest value, a header and a rule; or a plain sentence."""
    if not rows:
        return "nothing found"
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in columns}
    lines = [
        "  ".join(c.upper().ljust(widths[c]) for c in columns).rstrip(),
        "  ".join("-" * widths[c] for c in columns),
        *("  ".join(r[c].ljust(widths[c]) for c in columns).rstrip() for r in rows),
    ]
    return "\n".join(lines)


def _matches(row: Row, search: str) -> bool:
    """TEXT anywhere in a value, ignoring case; a Tax ID with or without its dash."""
    wanted = search.casefold()
    digits = wanted.replace("-", "") if wanted.replace("-", "").isdigit() else ""
    return any(
        wanted in value.casefold() or (digits and digits in value.replace("-", ""))
        for value in row.values()
    )


async def listing(session: AsyncSession, settings: Settings, args: argparse.Namespace) -> str:
    rows = await _rows(session, args.command)
    if args.search:
        rows = [r for r in rows if _matches(r, args.search)]
    if args.json:
        return json.dumps(rows, indent=1)
    return table(rows)
