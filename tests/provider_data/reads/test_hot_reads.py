"""The hot read paths' statements, counted on the real database: a regression guard.

Every statement the services send is caught with SQLAlchemy's `before_cursor_execute`
event; the access trail's own statements (`provider_data.platform.audit`, and its sealer's
leader election, an advisory lock tried now and then) are set aside, so the count is
the read path's alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from provider_data.data import csv_import
from provider_data.platform.db import create_engine
from tests.provider_data.conftest import Plan

ACTIVE = {"member_id": "M1000101", "date_of_birth": "1985-04-12"}
TRAIL = ("access_events", "access_chain_head", "_advisory_")


@contextmanager
def statements() -> Iterator[list[str]]:
    """The SQL of every statement sent meanwhile, but the access trail's."""
    sent: list[str] = []

    def caught(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not any(table in statement for table in TRAIL):
            sent.append(" ".join(statement.split()))

    event.listen(Engine, "before_cursor_execute", caught)
    try:
        yield sent
    finally:
        event.remove(Engine, "before_cursor_execute", caught)


async def test_an_active_answer_takes_one_read_and_writes_no_counter(plan: Plan) -> None:
    """Provider records (TIN match), the member with everything about its coverage, and
    the year's amounts in one statement; reference data from the cache; a matched
    inquiry locks nothing."""
    await plan.eligibility.post("/eligibility/v1/inquiries", json=ACTIVE, headers=plan.auth())
    with statements() as sent:
        response = await plan.eligibility.post(
            "/eligibility/v1/inquiries", json=ACTIVE, headers=plan.auth()
        )
    assert response.status_code == 200 and response.json()["status"] == "active"
    assert len(sent) == 1, sent  # was 17 (selectin loads, counter upserts, Lookups), then 3
    (read,) = sent
    assert read.upper().startswith(("SELECT", "(SELECT")) and "UNION ALL" in read.upper(), read
    for table in ("provider_records", "provider_locations", "provider_networks", "coverages"):
        assert table in read
    for table in ("failed_match_counters", "accumulators", "visit_usage"):
        assert table in read


async def test_a_failed_match_locks_and_counts(plan: Plan) -> None:
    wrong = {"member_id": "M1000101", "date_of_birth": "1985-04-13"}
    with statements() as sent:
        response = await plan.eligibility.post(
            "/eligibility/v1/inquiries", json=wrong, headers=plan.auth(client_id="hot-reads")
        )
    assert response.json()["reason"] == "date_of_birth_mismatch"
    verbs = [s.split()[0].upper() for s in sent]
    assert verbs == ["SELECT", "INSERT", "INSERT", "UPDATE", "UPDATE"], sent
    assert all("failed_match_counters" in s for s in sent[1:])  # locked (upsert), counted


async def test_claims_reads(plan: Plan) -> None:
    """A search is the TIN match and one query; a claim or its EOB two at most."""
    headers = plan.auth(roles=["subscriber", "billing"])
    found = await plan.claims.get("/claims/v1/claims", headers=headers)
    number = found.json()["claims"][0]["claim_number"]
    for path, reads in (
        ("/claims/v1/claims", 2),
        (f"/claims/v1/claims/{number}", 2),
        (f"/claims/v1/claims/{number}/eob", 3),
    ):
        with statements() as sent:
            response = await plan.claims.get(path, headers=headers)
        assert response.status_code == 200, response.text
        assert len(sent) == reads, (path, sent)


async def test_a_benefits_import_is_seen_at_once(plan: Plan, tmp_path: Path) -> None:
    """The import drops this process's cached reference data (other processes reload
    within `reference_cache_seconds`)."""

    async def copay() -> str:
        body = (
            await plan.eligibility.post(
                "/eligibility/v1/inquiries",
                json={**ACTIVE, "service_type_codes": ["98"]},
                headers=plan.auth(),
            )
        ).json()
        return str(next(b["copay"] for b in body["benefits"] if b["network"] == "in_network"))

    assert await copay() == "25.00"
    rows = tmp_path / "benefits.csv"
    engine = create_engine(plan.database_url)
    try:
        for now in ("30.00", "25.00"):  # changed, then as before
            rows.write_text(
                "product_code,service_type_code,network,copay,coinsurance_percent\n"
                f"CHP-PPO,98,in_network,{now},0\n"
            )
            report = await csv_import.import_file(engine, "benefits", rows)
            assert report.upserted == 1 and not report.rejected
            assert await copay() == now
    finally:
        await engine.dispose()


async def test_a_search_under_several_tins_merges_their_pages_in_order(plan: Plan) -> None:
    """Each TIN's newest claims are read on their own and merged: pages of 3 under two
    TINs give the same claims in the same order as one page, and as each TIN's own."""
    tins = ["123456789", "987654321"]
    headers = plan.auth(roles=["subscriber", "billing"], tax_ids=tins)

    async def page(params: dict[str, Any]) -> dict[str, Any]:
        response = await plan.claims.get("/claims/v1/claims", params=params, headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    whole = [c["claim_number"] for c in (await page({"limit": 100}))["claims"]]
    paged, cursor = [], None
    while True:
        body = await page({"limit": 3, **({"cursor": cursor} if cursor else {})})
        paged += [c["claim_number"] for c in body["claims"]]
        if not (cursor := body["next_cursor"]):
            break
    assert paged == whole and len(whole) > 6
    each = set()
    for tin in tins:
        only = await page({"limit": 100, "tin": tin})
        each |= {c["claim_number"] for c in only["claims"]}
    assert each == set(whole)
