"""`provider-data`: the plan's command line (migrate, seed the demo)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from policy.audit import Verification
from provider_data import audit
from provider_data.db import create_engine, migrate, session_factory
from provider_data.seed import ALL_TINS, seed_demo
from provider_data.settings import Settings


async def _seed(settings: Settings, tins: frozenset[str]) -> bool:
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            created = await seed_demo(session, settings.plan_name, tins)
            await session.commit()
            return created
    finally:
        await engine.dispose()


async def _verify(settings: Settings) -> Verification:
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            return await audit.verify(session)
    finally:
        await engine.dispose()


def _tins(value: str) -> frozenset[str]:
    tins = frozenset(t.strip().replace("-", "") for t in value.split(",") if t.strip())
    unknown = sorted(tins - ALL_TINS)
    if unknown:
        raise argparse.ArgumentTypeError(
            f"no demo provider record has TIN {', '.join(unknown)}; "
            f"choose from {', '.join(sorted(ALL_TINS))}"
        )
    return tins


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="provider-data", description="Operate a plan's provider data."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("migrate", help="bring the database schema up to date (Alembic)")
    seed = commands.add_parser("seed-demo", help="create the demo plan's data (idempotent)")
    seed.add_argument(
        "--provider-tins",
        type=_tins,
        default=ALL_TINS,
        help="comma-separated TINs whose demo provider records to create (default: all)",
    )
    audit_parser = commands.add_parser(
        "audit", help="the tamper-evident trail of access to patient data"
    )
    audit_commands = audit_parser.add_subparsers(
        dest="audit_command", required=True, metavar="ACTION"
    )
    audit_commands.add_parser(
        "verify", help="walk the hash chain; name the first altered, removed or reordered event"
    )
    args = parser.parse_args(argv)
    settings = Settings()
    if args.command == "migrate":
        migrate(settings.database_url)
        print("database is up to date")
    elif args.command == "audit":
        result = asyncio.run(_verify(settings))
        print(result.describe(), file=sys.stdout if result.ok else sys.stderr)
        return 0 if result.ok else 1
    else:
        created = asyncio.run(_seed(settings, args.provider_tins))
        print("demo plan data created" if created else "demo plan data already present")
    return 0


if __name__ == "__main__":
    sys.exit(main())
