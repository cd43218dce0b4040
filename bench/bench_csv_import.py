"""Importing 1,000,000 provider records from CSV (`provider-data import providers`).

The database follows TINPASS_TEST_DB (sqlite by default, or postgresql); BENCH_CSV_ROWS
changes the row count. The file is generated the same every time (10 providers per
TIN, every 1,000th row invalid so the report is exercised); it is imported twice, the
second time as a re-import of the same natural keys (every row an update).
"""

from __future__ import annotations

import csv
import os
import tempfile
import time
from pathlib import Path

import anyio.to_thread

from provider_data.data.csv_import import import_file
from provider_data.documents import npi
from provider_data.platform.db import create_engine, migrate
from tests.support.databases import db_kind, fresh_database

ROWS = int(os.environ.get("BENCH_CSV_ROWS", "1000000"))


def generate(path: Path, rows: int) -> None:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["npi", "tin", "name", "taxonomy", "network_status", "effective_from"])
        for i in range(rows):
            number = npi.make(f"1{i:08d}") if i % 1000 else f"1{i:08d}0"  # every 1,000th: bad
            writer.writerow(
                [
                    number,
                    f"{100000000 + i // 10:09d}",
                    f"Provider {i}",
                    "207Q00000X",
                    "in_network",
                    "2020-01-01",
                ]
            )


async def run() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "providers.csv"
        started = time.perf_counter()
        generate(source, ROWS)
        print(
            f"generated {ROWS:,} rows ({source.stat().st_size / 1e6:.0f} MB) "
            f"in {time.perf_counter() - started:.1f} s"
        )
        async with fresh_database("benchcsv", Path(tmp)) as url:
            await anyio.to_thread.run_sync(migrate, url)
            engine = create_engine(url)
            try:
                print(
                    f"{'database':<12}{'pass':<12}{'rows':>11}{'rejected':>10}{'seconds':>9}{'rows/s':>10}"
                )
                for label in ("first", "re-import"):
                    started = time.perf_counter()
                    report = await import_file(engine, "providers", source, chunk_size=5000)
                    elapsed = time.perf_counter() - started
                    print(
                        f"{db_kind():<12}{label:<12}{report.upserted:>11,}"
                        f"{len(report.rejected):>10,}{elapsed:>9.1f}{report.rows / elapsed:>10,.0f}"
                    )
            finally:
                await engine.dispose()
