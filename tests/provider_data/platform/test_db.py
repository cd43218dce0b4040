"""The schema: made only by the Alembic migrations, on an empty database of either kind."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect, select, text
from sqlalchemy.exc import IntegrityError

from provider_data.platform.db import VERSION_TABLE, create_engine, migrate, session_factory
from provider_data.platform.models import Base, Claim, Coverage, Member, ProviderRecord
from tests.support.databases import fresh_database

TABLES = {
    "plans",
    "products",
    "benefits",
    "cost_share_limits",
    "provider_networks",
    "provider_locations",
    "accumulators",
    "visit_usage",
    "fee_schedule",
    "claim_lines",
    "claim_adjustments",
    "claim_status_events",
    "idempotent_requests",
    "provider_records",
    "members",
    "coverages",
    "claims",
    "access_events",
    "access_chain_head",
    "failed_match_counters",
    VERSION_TABLE,
}


def _schema(connection: Connection) -> tuple[set[str], list[Any]]:
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return set(inspect(connection).get_table_names()), compare_metadata(context, Base.metadata)


async def test_migrations_make_the_models_schema_on_an_empty_database(tmp_path: Path) -> None:
    async with fresh_database("planschema", tmp_path) as url:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                assert await connection.run_sync(lambda c: inspect(c).get_table_names()) == []
            await anyio.to_thread.run_sync(migrate, url)
            await anyio.to_thread.run_sync(migrate, url)
            async with engine.connect() as connection:
                tables, differences = await connection.run_sync(_schema)
                versions = (await connection.execute(text(f"SELECT * FROM {VERSION_TABLE}"))).all()
                head = (await connection.execute(text("SELECT * FROM access_chain_head"))).all()
        finally:
            await engine.dispose()
    assert tables == TABLES
    assert differences == [], "the models and the migrations disagree"
    assert [tuple(v) for v in versions] == [("0007",)]
    assert [tuple(h) for h in head] == [(1, 0, "0" * 64)]


def _claim(member: Member, status: str) -> Claim:
    zero = Decimal("0.00")
    return Claim(
        claim_number=f"C-TEST-{status}",
        member=member,
        billing_tin="123456789",
        billing_npi="1234567893",
        service_date=date(2026, 1, 5),
        received_date=date(2026, 1, 9),
        status=status,
        billed_amount=Decimal("100.00"),
        allowed_amount=zero,
        paid_amount=zero,
        patient_responsibility=zero,
    )


def _coverage(member_pk: int) -> Coverage:
    return Coverage(member_id=member_pk, product_id=1, effective_date=date(2026, 1, 1))


def _member(member_id: str) -> Member:
    return Member(
        member_id=member_id,
        subscriber_id=member_id[:-2],
        first_name="Ada",
        last_name="Ng",
        date_of_birth=date(1990, 1, 1),
    )


def _refused_rows() -> dict[str, list[Any]]:
    provider = ProviderRecord(
        npi="1234567893", tin="123456789", name="X", effective_from=date(2020, 1, 1)
    )
    provider.network_status = "somewhere"
    member = _member("M701")
    stranger = _member("M702")
    stranger.relation = "cousin"
    return {
        "member relation outside the set": [stranger],
        "coverage of no member": [_coverage(424242)],
        "claim status outside the set": [member, _claim(member, "lost")],
        "network status outside the set": [provider],
    }


async def test_the_database_keeps_references_and_value_sets(tmp_path: Path) -> None:
    async with fresh_database("planrules", tmp_path) as url:
        await anyio.to_thread.run_sync(migrate, url)
        engine = create_engine(url)
        sessions = session_factory(engine)
        try:
            for rows in _refused_rows().values():
                async with sessions() as session:
                    session.add_all(rows)
                    with pytest.raises(IntegrityError):
                        await session.commit()
            async with sessions() as session:
                session.add(_claim(_member("M801"), "paid"))
                await session.commit()
                stored = list(await session.scalars(select(Claim.status)))
        finally:
            await engine.dispose()
    assert stored == ["paid"]


async def test_a_sqlite_database_gets_its_folder(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "plan.db"
    url = f"sqlite+aiosqlite:///{path}"
    await anyio.to_thread.run_sync(migrate, url)
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            keys = (await connection.execute(text("PRAGMA foreign_keys"))).scalar_one()
    finally:
        await engine.dispose()
    assert path.is_file() and keys == 1


OLD_ROWS = [
    "INSERT INTO members (member_id, first_name, last_name, date_of_birth) "
    "VALUES ('M1000101', 'Jo', 'Rivera', '1985-04-12')",
    "INSERT INTO coverages (member_id, plan_name, product, effective_date, copay_office_visit, "
    "deductible_individual, deductible_met, out_of_pocket_max, out_of_pocket_met) "
    "VALUES (1, 'Cascade Health Plan', 'Choice PPO', '2025-01-01', 25, 1500, 350, 6000, 410)",
]


async def test_0004_moves_old_coverage_rows_into_products_limits_and_accumulators(
    tmp_path: Path,
) -> None:
    async with fresh_database("planupgrade", tmp_path) as url:
        await anyio.to_thread.run_sync(migrate, url, "0003")
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:
                for statement in OLD_ROWS:
                    await connection.execute(text(statement))
            await anyio.to_thread.run_sync(migrate, url)
            async with session_factory(engine)() as session:
                member = await session.scalar(select(Member))
                coverage = await session.scalar(select(Coverage))
                limits = (
                    await session.execute(
                        text("SELECT kind, amount FROM cost_share_limits ORDER BY kind")
                    )
                ).all()
                met = (
                    await session.execute(text("SELECT kind, met FROM accumulators ORDER BY kind"))
                ).all()
                copay = await session.scalar(text("SELECT copay FROM benefits"))
                product = await session.scalar(text("SELECT name FROM products"))
        finally:
            await engine.dispose()
    assert member is not None and (member.subscriber_id, member.relation) == (
        "M10001",
        "subscriber",
    )
    assert coverage is not None and coverage.product_id == 1
    assert [(k, Decimal(a)) for k, a in limits] == [
        ("deductible", Decimal("1500")),
        ("out_of_pocket", Decimal("6000")),
    ]
    assert [(k, Decimal(m)) for k, m in met] == [
        ("deductible", Decimal("350")),
        ("out_of_pocket", Decimal("410")),
    ]
    assert Decimal(copay) == Decimal("25") and product == "Choice PPO"
