"""CSV import: every row validated and reported by line; good rows upserted; re-import safe."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest
from sqlalchemy import select

from provider_data import cli
from provider_data.data import csv_import
from provider_data.data.seed import seed_demo
from provider_data.platform.db import create_engine, migrate, session_factory
from provider_data.platform.models import (
    Benefit,
    Claim,
    Coverage,
    Member,
    ProviderLocation,
    ProviderNetwork,
    ProviderRecord,
)
from tests.support.databases import fresh_database
from tests.support.digits import arabic_indic, full_width

SAMPLES = Path(__file__).parents[3] / "services" / "provider_data" / "samples"
PROVIDERS = """npi,tin,name,taxonomy,network_status,effective_from,effective_to
1333333338,33-3333333,Birch Physical Therapy,225100000X,in_network,2024-03-01,
1234567890,123456789,Bad Check Digit,,,2020-01-01,
1555555557,12345,Short TIN,,,2020-01-01,
1666666665,666666666,,207Q00000X,nowhere,2020-13-01,
1777777773,777777777,Ends Before It Starts,bad,,2021-01-01,2020-01-01
1888888881,888888888,Too,Many,Values,2020-01-01,,extra
"""


@pytest.fixture(scope="module")
async def url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    async with fresh_database("plancsv", tmp_path_factory.mktemp("csv")) as database:
        await anyio.to_thread.run_sync(migrate, database)
        engine = create_engine(database)
        async with session_factory(engine)() as session:
            await seed_demo(session)
            await session.commit()
        await engine.dispose()
        yield database


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


async def run(monkeypatch: pytest.MonkeyPatch, url: str, *args: Any) -> int:
    monkeypatch.setenv("DATABASE_URL", url)
    code: int = await anyio.to_thread.run_sync(cli.main, ["import", *map(str, args)])
    return code


async def rows(url: str, model: Any, *order: Any) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            found = await session.scalars(select(model).order_by(*order))
            return [
                tuple(getattr(r, c.key) for c in model.__table__.columns if c.key != "id")
                for r in found
            ]
    finally:
        await engine.dispose()


async def test_the_report_names_each_refused_line_and_the_good_rows_go_in(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = write(tmp_path, "providers.csv", PROVIDERS)
    report_path = tmp_path / "rejected.csv"
    assert await run(monkeypatch, url, "providers", source, "--report", report_path) == 1
    report = report_path.read_text().splitlines()
    assert report[0] == "line,reasons"
    by_line = {int(r.split(",", 1)[0]): r.split(",", 1)[1] for r in report[1:]}
    assert sorted(by_line) == [3, 4, 5, 6, 7]
    assert "npi: 1234567890 is not a valid NPI" in by_line[3]
    assert "tin: '12345' is not a 9-digit Tax ID" in by_line[4]
    for reason in ("name: required", "network_status: 'nowhere'", "effective_from: '2020-13-01'"):
        assert reason in by_line[5]
    assert "effective_to: before effective_from" in by_line[6] and "taxonomy" in by_line[6]
    assert "more values than columns" in by_line[7]
    stored = await rows(url, ProviderRecord, ProviderRecord.npi)
    birch = [r for r in stored if r[0] == "1333333338"]
    assert birch and birch[0][1] == "333333333" and birch[0][3] == "225100000X"


async def test_samples_import_cleanly_and_a_reimport_changes_nothing(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    kinds = ("providers", "locations", "networks", "members", "coverages", "benefits", "claims")
    for kind in kinds:
        assert await run(monkeypatch, url, kind, SAMPLES / f"{kind}.csv") == 0, kind
    tables = (
        (ProviderRecord, ProviderRecord.npi),
        (Member, Member.member_id),
        (Coverage, Coverage.member_id, Coverage.effective_date),
        (Benefit, Benefit.product_id, Benefit.service_type_code, Benefit.network),
        (Claim, Claim.claim_number),
        (ProviderLocation, ProviderLocation.provider_id, ProviderLocation.address_line),
        (ProviderNetwork, ProviderNetwork.provider_id, ProviderNetwork.product_id),
    )
    before = [await rows(url, model, *order) for model, *order in tables]
    for kind in kinds:
        assert await run(monkeypatch, url, kind, SAMPLES / f"{kind}.csv") == 0
    assert [await rows(url, model, *order) for model, *order in tables] == before
    # the demo's four locations and one network entry, plus the samples' new ones
    assert (len(before[5]), len(before[6])) == (4 + 2, 1 + 2)
    members = {r[0]: r for r in before[1]}
    assert members["M1000503"][2] == "child" and members["M1000503"][1] == "M10005"


async def test_an_upsert_updates_by_natural_key(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    header = "member_id,first_name,last_name,date_of_birth\n"
    first = write(tmp_path, "a.csv", header + "Q77*01,Ann,Lee,1970-01-01\n")
    renamed = write(
        tmp_path, "b.csv", header + "Q7701,Anne,Lee,1970-01-01\nQ77*01,Annie,Lee,1970-01-01\n"
    )
    assert await run(monkeypatch, url, "members", first) == 0
    assert await run(monkeypatch, url, "members", renamed) == 0
    names = [r[3] for r in await rows(url, Member, Member.member_id) if r[0] == "Q7701"]
    assert names == ["Annie"], "one row per member ID; the last one in the file wins"


async def test_references_must_exist(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    coverages = write(
        tmp_path,
        "c.csv",
        "member_id,product_code,effective_date\nZZ0001,CHP-PPO,2026-01-01\nM1000101,NOPE,2026-01-01\n",
    )
    assert await run(monkeypatch, url, "coverages", coverages) == 1
    err = capsys.readouterr().err
    assert "line 2: member_id: no member ZZ0001; import members first" in err
    assert "line 3: product_code: no product NOPE" in err


async def test_a_file_with_wrong_columns_is_refused_whole(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write(tmp_path, "p.csv", "npi,tin,colour\n1234567893,123456789,red\n")
    assert await run(monkeypatch, url, "providers", source) == 2
    err = capsys.readouterr().err
    assert "missing column(s) name, effective_from" in err and "unknown column(s) colour" in err
    assert await run(monkeypatch, url, "providers", tmp_path / "absent.csv") == 2


def test_the_progress_bar() -> None:
    out = io.StringIO()
    bar = csv_import.Progress(200, "providers", out, enabled=True)
    bar.update(100, 3)
    bar.finish()
    assert "50%" in out.getvalue() and "100 rows, 3 rejected" in out.getvalue()
    silent = io.StringIO()
    csv_import.Progress(200, "providers", silent, enabled=False).update(100, 0)
    assert silent.getvalue() == ""


def test_import_help_documents_the_columns(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["import", "--help"])
    usage = capsys.readouterr().out
    assert "providers: npi, tin, name, effective_from" in usage
    assert "claims: claim_number, member_id" in usage


async def test_locations_and_networks_name_a_provider_record(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write(
        tmp_path,
        "n.csv",
        "npi,product_code,status\n1234567893,CHP-HMO,maybe\n1999999992,CHP-HMO,in_network\n",
    )
    places = write(
        tmp_path,
        "l.csv",
        "npi,address_line,city,state,postal_code\n1234567893,1 Main St,Tacoma,W1,ABCDE\n",
    )
    assert await run(monkeypatch, url, "networks", source) == 1
    assert await run(monkeypatch, url, "locations", places) == 1
    err = capsys.readouterr().err
    assert "line 2: status: 'maybe' is not one of in_network, out_of_network" in err
    assert "line 3: npi: 1999999992 is not a provider record; import providers first" in err
    assert "state: 'W1' is not a two-letter state code" in err and "postal_code" in err


async def test_look_alike_digits_in_tins_and_npis_are_refused_by_line(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Full-width and Arabic-Indic digits pass str.isdigit(); they are no TIN or NPI."""
    providers = (
        "npi,tin,name,effective_from\n"
        f"{full_width('1333333338')},333333333,Full-width NPI,2024-03-01\n"
        f"1333333338,{arabic_indic('33-3333333')},Arabic-Indic TIN,2024-03-01\n"
    )
    members = (
        "member_id,first_name,last_name,date_of_birth,pcp_npi\n"
        f"M1000701,Ana,Lima,1980-01-01,{arabic_indic('1234567893')}\n"
    )
    claims = (
        "claim_number,member_id,billing_tin,billing_npi,service_date,received_date,status,"
        "billed_amount\n"
        f"H-LOOK-1,M1000101,{full_width('123456789')},1234567893,2025-11-03,2025-11-10,"
        "received,10.00\n"
    )
    reports: dict[str, dict[int, str]] = {}
    for kind, text in (("providers", providers), ("members", members), ("claims", claims)):
        report = tmp_path / f"{kind}-rejected.csv"
        source = write(tmp_path, f"{kind}.csv", text)
        assert await run(monkeypatch, url, kind, source, "--report", report) == 1
        lines = list(csv.reader(io.StringIO(report.read_text())))[1:]
        reports[kind] = {int(line): reasons for line, reasons in lines}
    refused = reports["providers"]
    assert refused[2].startswith(f"npi: {full_width('1333333338')} is not a valid NPI (ten digits")
    assert refused[3].startswith(f"tin: '{arabic_indic('333333333')}' is not a 9-digit Tax ID")
    assert "digits 0-9 only" in refused[3]
    assert (
        reports["members"][2].startswith("pcp_npi: ") and "other scripts" in reports["members"][2]
    )
    assert reports["claims"][2].startswith(f"billing_tin: '{full_width('123456789')}' is not a")
    stored = await rows(url, ProviderRecord, ProviderRecord.npi)
    assert not any(r[2] in ("Full-width NPI", "Arabic-Indic TIN") for r in stored)


def test_the_rejection_report_writes_no_live_formula() -> None:
    """The report quotes the file's values; a reason that starts a formula stays text."""
    report = csv_import.Report(path="x.csv", kind="providers")
    report.rejected = [(2, ['=HYPERLINK("https://evil.example","x")']), (3, ["-1+1", "@A1"])]
    out = io.StringIO()
    report.write(out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[1] == ["2", '\'=HYPERLINK("https://evil.example","x")']
    assert rows[2] == ["3", "'-1+1; @A1"]
