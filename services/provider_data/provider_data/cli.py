"""`provider-data`: the plan's command line (migrate, seed the demo)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from provider_data.db import create_engine, migrate, session_factory
from provider_data.seed import seed_demo
from provider_data.settings import Settings


async def _seed(settings: Settings) -> bool:
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            created = await seed_demo(session, settings.plan_name)
            await session.commit()
            return created
    finally:
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="provider-data", description="Operate a plan's provider data."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("migrate", help="bring the database schema up to date (Alembic)")
    commands.add_parser("seed-demo", help="create the demo plan's data (idempotent)")
    args = parser.parse_args(argv)
    settings = Settings()
    if args.command == "migrate":
        migrate(settings.database_url)
        print("database is up to date")
    else:
        created = asyncio.run(_seed(settings))
        print("demo plan data created" if created else "demo plan data already present")
    return 0


if __name__ == "__main__":
    sys.exit(main())
