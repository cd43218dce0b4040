"""`provider-data`: the plan's command line (migrate, seed the demo, import CSV, review
claims, audit)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from policy import trails
from provider_data.data import csv_import
from provider_data.data.csv_rows import COLUMNS
from provider_data.data.generator import Sizes, generate
from provider_data.data.seed import ALL_TINS, seed_demo
from provider_data.documents import identifiers
from provider_data.domain import claims_review
from provider_data.platform import audit
from provider_data.platform.db import create_engine, migrate, session_factory
from provider_data.platform.settings import Settings

SHOWN_REJECTIONS = 20


async def _seed(settings: Settings, args: argparse.Namespace) -> list[str]:
    engine = create_engine(settings.database_url, pool=settings.without_statement_timeout())
    said = []
    try:
        async with session_factory(engine)() as session:
            created = await seed_demo(session, settings.plan_name, args.provider_tins)
            await session.commit()
        said.append("demo plan data created" if created else "demo plan data already present")
        sizes = Sizes(args.members, args.providers, args.claims, args.seed)
        if sizes.members and sizes.providers:
            made = await generate(engine, sizes)
            what = f"{sizes.members} members, {sizes.providers} providers, {sizes.claims} claims"
            said.append(
                f"generated plan (seed {sizes.seed}: {what}) "
                + ("created" if made else "already present")
            )
        return said
    finally:
        await engine.dispose()


async def _audit(settings: Settings, args: argparse.Namespace) -> tuple[bool, str]:
    """verify, seal or status: whether all is well, and what to say."""
    engine = create_engine(settings.database_url, pool=settings.without_statement_timeout())
    vault = audit.vault(settings)
    try:
        async with session_factory(engine)() as session:
            if args.audit_command == "seal":
                return await audit.OPERATIONS.sealed(session, vault)
            if args.audit_command == "status":
                return True, (await audit.status(session)).describe()
            return await audit.OPERATIONS.checked(session, vault, args.public_key)
    finally:
        await engine.dispose()


async def _import(settings: Settings, args: argparse.Namespace) -> csv_import.Report:
    engine = create_engine(settings.database_url, pool=settings.without_statement_timeout())
    try:
        progress = sys.stderr.isatty() if args.progress is None else args.progress
        return await csv_import.import_file(
            engine, args.kind, args.file, chunk_size=args.chunk_size, progress=progress
        )
    finally:
        await engine.dispose()


async def _review(settings: Settings, args: argparse.Namespace) -> str:
    engine = create_engine(settings.database_url, pool=settings.without_statement_timeout())
    try:
        async with session_factory(engine)() as session:
            claim = await claims_review.review(
                session, args.claim_number, args.approve, date.today()
            )
            await session.commit()
            return (
                f"claim {claim.claim_number} {claim.status}: allowed {claim.allowed_amount:.2f}, "
                f"paid {claim.paid_amount:.2f}, patient {claim.patient_responsibility:.2f}"
            )
    finally:
        await engine.dispose()


def _tins(value: str) -> frozenset[str]:
    tins = frozenset(t.strip().replace("-", "") for t in value.split(",") if t.strip())
    malformed = sorted(t for t in tins if not (len(t) == 9 and identifiers.is_tin(t)))
    if malformed:
        raise argparse.ArgumentTypeError(
            f"{', '.join(repr(t) for t in malformed)}: {identifiers.TIN_RULE}"
        )
    unknown = sorted(tins - ALL_TINS)
    if unknown:
        raise argparse.ArgumentTypeError(
            f"no demo provider record has TIN {', '.join(unknown)}; "
            f"choose from {', '.join(sorted(ALL_TINS))}"
        )
    return tins


def _columns_help() -> str:
    lines = ["columns (required first, then optional in brackets):"]
    for kind, columns in COLUMNS.items():
        optional = f" [{', '.join(columns.optional)}]" if columns.optional else ""
        lines.append(f"  {kind}: {', '.join(columns.required)}{optional}")
    return "\n".join(lines)


Commands = Any  # argparse's private _SubParsersAction


def _seed_parser(commands: Commands) -> None:
    seed = commands.add_parser("seed-demo", help="create the demo plan's data (idempotent)")
    seed.add_argument(
        "--provider-tins",
        type=_tins,
        default=ALL_TINS,
        help="comma-separated TINs whose demo provider records to create (default: all)",
    )
    settings = Settings()
    for name, default, what in (
        ("members", settings.demo_members, "generated members (0: none)"),
        ("providers", settings.demo_providers, "generated provider records"),
        ("claims", settings.demo_claims, "generated claims, adjudicated"),
        ("seed", settings.demo_seed, "the generator's seed: same seed and sizes, same plan"),
    ):
        seed.add_argument(
            f"--{name}", type=int, default=default, help=f"{what} (default {default})"
        )


def _import_parser(commands: Commands) -> None:
    load = commands.add_parser(
        "import",
        help="import providers, members, coverages, benefits or claims from a CSV file",
        description="Validate every row; import the good ones (upserted by natural key, so "
        "a re-import is safe) and report the others with line numbers and reasons.",
        epilog=_columns_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    load.add_argument("kind", choices=sorted(COLUMNS))
    load.add_argument("file", type=Path)
    load.add_argument("--report", type=Path, help="write the rejected rows here as CSV")
    load.add_argument("--chunk-size", type=int, default=5000, help="rows per transaction")
    load.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar (default: when stderr is a terminal)",
    )


def _claims_parser(commands: Commands) -> None:
    claims = commands.add_parser("claims", help="operate on claims (medical review)")
    claim_commands = claims.add_subparsers(dest="claims_command", required=True, metavar="ACTION")
    review = claim_commands.add_parser(
        "review", help="finish a claim pended for medical review: approve or deny it"
    )
    review.add_argument("claim_number")
    decision = review.add_mutually_exclusive_group(required=True)
    decision.add_argument("--approve", action="store_true", help="adjudicate it as usual")
    decision.add_argument("--deny", action="store_true", help="deny every line (CO-50)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="provider-data", description="Operate a plan's provider data."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("migrate", help="bring the database schema up to date (Alembic)")
    _seed_parser(commands)
    _import_parser(commands)
    _claims_parser(commands)
    trails.add_commands(commands, "the tamper-evident trail of access to patient data")
    return parser


def _run_import(settings: Settings, args: argparse.Namespace) -> int:
    if not args.file.is_file():
        print(f"no such file: {args.file}", file=sys.stderr)
        return 2
    try:
        report = asyncio.run(_import(settings, args))
    except csv_import.ImportFileError as error:
        print(f"{args.file}: cannot import: {error}", file=sys.stderr)
        return 2
    print(report.describe())
    if args.report:
        with args.report.open("w", newline="") as out:
            report.write(out)
        print(f"rejected rows written to {args.report}")
    else:
        for line, reasons in report.rejected[:SHOWN_REJECTIONS]:
            print(f"line {line}: {'; '.join(reasons)}", file=sys.stderr)
        more = len(report.rejected) - SHOWN_REJECTIONS
        if more > 0:
            print(f"... and {more} more; use --report FILE for all", file=sys.stderr)
    return 1 if report.rejected else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = Settings()
    if args.command == "migrate":
        migrate(settings.database_url)
        print("database is up to date")
    elif args.command == "audit":
        ok, said = asyncio.run(_audit(settings, args))
        print(said, file=sys.stdout if ok else sys.stderr)
        return 0 if ok else 1
    elif args.command == "import":
        return _run_import(settings, args)
    elif args.command == "claims":
        try:
            print(asyncio.run(_review(settings, args)))
        except claims_review.ReviewError as error:
            print(f"cannot review: {error}", file=sys.stderr)
            return 1
    else:
        for line in asyncio.run(_seed(settings, args)):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
