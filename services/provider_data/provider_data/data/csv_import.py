"""Importing the plan's data from CSV files: every row validated, the good ones
upserted by their natural key (so a re-import changes nothing), the refused ones
reported with their line numbers and reasons.

Rows go in by chunks, one transaction each; a progress bar on stderr follows a long
import. Natural keys: providers by NPI; locations by NPI, address line and postal
code; networks (a provider's status for a product) by NPI and product; members by
member ID; coverages by member, product and effective date; benefits by product,
service type and network; claims by claim number.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from policy import csvsafe
from provider_data.data.csv_rows import COLUMNS, PARSERS, RowError
from provider_data.platform.models import (
    Benefit,
    Claim,
    Coverage,
    Member,
    Product,
    ProviderLocation,
    ProviderNetwork,
    ProviderRecord,
)
from provider_data.reads import reference

Chunk = list[tuple[int, dict[str, Any]]]


class ImportFileError(Exception):
    """The file as a whole cannot be imported (missing or unknown columns)."""


@dataclass
class Report:
    kind: str
    path: str
    rows: int = 0
    upserted: int = 0
    rejected: list[tuple[int, list[str]]] = field(default_factory=list)

    def describe(self) -> str:
        return (
            f"{self.path}: {self.rows} {self.kind} rows read, {self.upserted} imported, "
            f"{len(self.rejected)} rejected"
        )

    def write(self, out: TextIO) -> None:
        """The rejected rows as CSV: line number and every reason."""
        writer = csvsafe.writer(out)  # reasons quote the file's values: no formulas
        writer.writerow(["line", "reasons"])
        for line, reasons in self.rejected:
            writer.writerow([line, "; ".join(reasons)])


class Progress:
    """A one-line progress bar on a terminal (nothing when not enabled)."""

    def __init__(self, total: int, label: str, out: TextIO, enabled: bool) -> None:
        self.total, self.label, self.out, self.enabled = max(total, 1), label, out, enabled

    def update(self, done: int, rejected: int) -> None:
        if not self.enabled:
            return
        share = min(done / self.total, 1.0)
        bar = "#" * int(share * 30)
        self.out.write(
            f"\r{self.label} [{bar:<30}] {share:4.0%} {done:,} rows, {rejected:,} rejected"
        )
        self.out.flush()

    def finish(self) -> None:
        if self.enabled:
            self.out.write("\n")


def _check_header(kind: str, header: Sequence[str] | None) -> None:
    columns = COLUMNS[kind]
    present = {h.strip() for h in header or [] if h}
    missing = [c for c in columns.required if c not in present]
    unknown = sorted(present - set(columns.required) - set(columns.optional))
    if missing or unknown:
        expected = ", ".join(columns.required + columns.optional)
        problems = [f"missing column(s) {', '.join(missing)}"] if missing else []
        problems += [f"unknown column(s) {', '.join(unknown)}"] if unknown else []
        raise ImportFileError(f"{'; '.join(problems)}. Expected columns: {expected}.")


def _chunks(reader: csv.DictReader[str], kind: str, report: Report, size: int) -> Iterator[Chunk]:
    parse = PARSERS[kind]
    chunk: Chunk = []
    for raw in reader:
        report.rows += 1
        line = reader.line_num
        if None in raw:
            report.rejected.append((line, ["more values than columns"]))
            continue
        try:
            chunk.append((line, parse(raw)))
        except RowError as error:
            report.rejected.append((line, error.reasons))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def _upsert(
    conn: AsyncConnection, table: Table, rows: list[dict[str, Any]], keys: list[str]
) -> None:
    if not rows:
        return
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = insert(table)
    updates = {c: statement.excluded[c] for c in rows[0] if c not in keys}
    await conn.execute(statement.on_conflict_do_update(index_elements=keys, set_=updates), rows)


def _last_per_key(chunk: Chunk, keys: tuple[str, ...]) -> Chunk:
    """One row per natural key within a chunk: the last one, as a re-import would leave."""
    return list({tuple(values[k] for k in keys): (line, values) for line, values in chunk}.values())


async def _ids(conn: AsyncConnection, column: Any, key: Any, wanted: set[str]) -> dict[str, int]:
    if not wanted:
        return {}
    rows = await conn.execute(select(key, column).where(key.in_(sorted(wanted))))
    return {k: i for k, i in rows.all()}


def _refuse(report: Report, line: int, reason: str) -> None:
    report.rejected.append((line, [reason]))


async def _providers(conn: AsyncConnection, chunk: Chunk, report: Report) -> int:
    rows = [v for _, v in _last_per_key(chunk, ("npi",))]
    await _upsert(conn, ProviderRecord.__table__, rows, ["npi"])  # type: ignore[arg-type]
    return len(chunk)


async def _members(conn: AsyncConnection, chunk: Chunk, report: Report) -> int:
    wanted = {v["pcp_npi"] for _, v in chunk if v["pcp_npi"]}
    pcps = await _ids(conn, ProviderRecord.id, ProviderRecord.npi, wanted)
    rows, good = [], 0
    for line, values in _last_per_key(chunk, ("member_id",)):
        pcp = values.pop("pcp_npi")
        if pcp and pcp not in pcps:
            _refuse(report, line, f"pcp_npi: {pcp} is not a provider record at this plan")
            continue
        rows.append({**values, "pcp_id": pcps.get(pcp) if pcp else None})
        good += 1
    await _upsert(conn, Member.__table__, rows, ["member_id"])  # type: ignore[arg-type]
    return good


async def _with_member_and_product(
    conn: AsyncConnection, chunk: Chunk, report: Report, keys: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Rows whose member ID and product code (when the row has them) name existing rows."""
    members = await _ids(
        conn, Member.id, Member.member_id, {v["member_id"] for _, v in chunk if "member_id" in v}
    )
    products = await _ids(
        conn, Product.id, Product.code, {v["product_code"] for _, v in chunk if "product_code" in v}
    )
    rows = []
    for line, values in _last_per_key(chunk, keys):
        if "member_id" in values and values["member_id"] not in members:
            _refuse(
                report, line, f"member_id: no member {values['member_id']}; import members first"
            )
            continue
        if "product_code" in values and values["product_code"] not in products:
            _refuse(report, line, f"product_code: no product {values['product_code']}")
            continue
        row = dict(values)
        if "member_id" in row:
            row["member_id"] = members[row["member_id"]]
        if "product_code" in row:
            row["product_id"] = products[row.pop("product_code")]
        rows.append(row)
    return rows


async def _coverages(conn: AsyncConnection, chunk: Chunk, report: Report) -> int:
    rows = await _with_member_and_product(
        conn, chunk, report, ("member_id", "product_code", "effective_date")
    )
    keys = ["member_id", "product_id", "effective_date"]
    await _upsert(conn, Coverage.__table__, rows, keys)  # type: ignore[arg-type]
    return len(rows)


async def _benefits(conn: AsyncConnection, chunk: Chunk, report: Report) -> int:
    keys = ("product_code", "service_type_code", "network")
    rows = await _with_member_and_product(conn, chunk, report, keys)
    table = Benefit.__table__
    await _upsert(conn, table, rows, ["product_id", "service_type_code", "network"])  # type: ignore[arg-type]
    return len(rows)


async def _claims(conn: AsyncConnection, chunk: Chunk, report: Report) -> int:
    known = await _ids(
        conn, ProviderRecord.tin, ProviderRecord.npi, {v["billing_npi"] for _, v in chunk}
    )
    billed: Chunk = []
    for line, values in chunk:
        if known.get(values["billing_npi"]) != values["billing_tin"]:
            _refuse(report, line, "billing_npi: no provider record with this NPI and billing_tin")
        else:
            billed.append((line, values))
    rows = await _with_member_and_product(conn, billed, report, ("claim_number",))
    await _upsert(conn, Claim.__table__, rows, ["claim_number"])  # type: ignore[arg-type]
    return len(rows)


async def _by_provider(
    conn: AsyncConnection, chunk: Chunk, report: Report, keys: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Rows whose NPI names a provider record (and product code a product), keyed by id."""
    providers = await _ids(
        conn, ProviderRecord.id, ProviderRecord.npi, {v["npi"] for _, v in chunk}
    )
    known: Chunk = []
    for line, values in chunk:
        if values["npi"] not in providers:
            _refuse(
                report,
                line,
                f"npi: {values['npi']} is not a provider record; import providers first",
            )
        else:
            known.append((line, values))
    rows = await _with_member_and_product(conn, known, report, keys)
    for row in rows:
        row["provider_id"] = providers[row.pop("npi")]
    return rows


async def _locations(conn: AsyncConnection, chunk: Chunk, report: Report) -> int:
    rows = await _by_provider(conn, chunk, report, ("npi", "address_line", "postal_code"))
    keys = ["provider_id", "address_line", "postal_code"]
    await _upsert(conn, ProviderLocation.__table__, rows, keys)  # type: ignore[arg-type]
    return len(rows)


async def _networks(conn: AsyncConnection, chunk: Chunk, report: Report) -> int:
    rows = await _by_provider(conn, chunk, report, ("npi", "product_code"))
    keys = ["provider_id", "product_id"]
    await _upsert(conn, ProviderNetwork.__table__, rows, keys)  # type: ignore[arg-type]
    return len(rows)


LOADERS: dict[str, Callable[[AsyncConnection, Chunk, Report], Awaitable[int]]] = {
    "providers": _providers,
    "members": _members,
    "coverages": _coverages,
    "benefits": _benefits,
    "claims": _claims,
    "locations": _locations,
    "networks": _networks,
}


def _count_rows(path: Path) -> int:
    with path.open("rb") as raw:
        return max(sum(1 for _ in raw) - 1, 0)


async def import_file(
    engine: AsyncEngine,
    kind: str,
    path: Path,
    *,
    chunk_size: int = 5000,
    progress: bool = False,
) -> Report:
    """Validate and upsert one CSV file of `kind`; the report names every refused row."""
    report = Report(kind, str(path))
    bar = Progress(_count_rows(path) if progress else 0, f"{kind}", sys.stderr, progress)
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        _check_header(kind, reader.fieldnames)
        for chunk in _chunks(reader, kind, report, chunk_size):
            async with engine.begin() as conn:
                report.upserted += await LOADERS[kind](conn, chunk, report)
            reference.invalidate()  # benefits: this process's caches reload (others in time)
            bar.update(report.rows, len(report.rejected))
    bar.update(bar.total, len(report.rejected))
    bar.finish()
    report.rejected.sort()
    return report
