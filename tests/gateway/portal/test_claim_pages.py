"""The claim pages before the plan's real claims service: a claim says its status and
why it was denied first, its service lines read without a wide table, its EOB comes as
a real PDF; a search is a GET address that pages both ways, and what is wrong with a
search is said in plain words."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pypdf import PdfReader

from tests.gateway.portal.claims_plan import portal_before_claims, sign_in
from tests.gateway.portal.conftest import Portal


@pytest.fixture(scope="module")
async def portal(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Portal]:
    async with portal_before_claims(tmp_path_factory.mktemp("claims")) as running:
        yield running


async def as_biller(portal: Portal, **claims: Any) -> httpx.AsyncClient:
    session = f"sess-{uuid.uuid4()}"  # one session per test
    await sign_in(portal, session, **claims)
    portal.client.cookies.set(portal.cookie, session, domain="portal.test", path="/portal")
    return portal.client


def text(page: httpx.Response) -> str:
    """What a person reads: the page's text without tags, spaces collapsed."""
    words = re.sub(r"<[^>]+>", " ", page.text).replace("&#39;", "'").replace("&amp;", "&")
    return re.sub(r"\s+", " ", words).strip()


def claim_numbers(page: httpx.Response) -> list[str]:
    return re.findall(r'<a href="/portal/claims/(C-[0-9-]+)">', page.text)


def link(page: httpx.Response, name: str) -> str | None:
    found = re.search(rf'<a [^>]*href="([^"]+)"[^>]*>{name}</a>', page.text)
    return found.group(1).replace("&amp;", "&") if found else None


async def numbers_with(client: httpx.AsyncClient, status: str) -> list[str]:
    page = await client.get("/portal/claims", params={"status": status, "per_page": "50"})
    assert page.status_code == 200
    return claim_numbers(page)


async def test_a_denied_claim_says_why_before_anything_else(portal: Portal) -> None:
    client = await as_biller(portal)
    number = (await numbers_with(client, "denied"))[0]
    page = await client.get(f"/portal/claims/{number}")
    assert page.status_code == 200
    shown = text(page)
    top = shown[: shown.index("Claim details")]
    assert "Status: Denied" in top and "Why it was denied" in top
    assert "Reason code CO-197 (line 1): Precertification/authorization/notification/" in top
    assert "Remark M62 (line 1): Missing/incomplete/invalid treatment authorization code." in top
    assert "Billed $4,000.00" in top and "Paid by the plan $0.00" in top


async def test_service_lines_are_cards_not_a_wide_table(portal: Portal) -> None:
    client = await as_biller(portal)
    number = (await numbers_with(client, "partially_paid"))[0]
    page = await client.get(f"/portal/claims/{number}")
    lines = page.text[page.text.index('id="lines"') :]
    assert "<table" not in lines
    shown = text(page)
    assert "Why some lines were denied" in shown and "(line 2)" in shown
    assert "Line 1: procedure 99213, Paid" in shown
    assert "Line 2: procedure 29881, Denied" in shown
    assert "CO-45 , $58.00: Contractual obligation (provider write-off): Charge exceeds" in shown
    assert "PR-3 , $25.00: Patient responsibility: Co-payment amount." in shown
    assert "service type Professional (Physician) Visit - Office" in shown


async def test_the_eob_downloads_as_a_pdf_that_reads_like_the_page(portal: Portal) -> None:
    client = await as_biller(portal)
    number = (await numbers_with(client, "partially_paid"))[0]
    page = await client.get(f"/portal/claims/{number}")
    assert link(page, r"Download the explanation of benefits \(PDF\)") == (
        f"/portal/claims/{number}/eob.pdf"
    )
    pdf = await client.get(f"/portal/claims/{number}/eob.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == f'attachment; filename="EOB-{number}.pdf"'
    reader = PdfReader(io.BytesIO(pdf.content))
    words = re.sub(r"\s+", " ", " ".join(p.extract_text() for p in reader.pages))
    assert reader.metadata is not None and number in str(reader.metadata.title)
    assert f"Claim {number}: Partly paid" in words
    assert "CO-197 (line 2): Precertification/authorization/notification/pre-treatment" in words
    assert "Billed $4,150.00" in words and "Paid by the plan $67.00" in words
    assert "Line 1: procedure 99213" in words and "Line 2: procedure 29881" in words
    assert "Adjustment PR-3, $25.00: Patient responsibility: Co-payment amount." in words


async def test_without_the_billing_role_no_eob_and_no_pdf(portal: Portal) -> None:
    client = await as_biller(portal, roles=["subscriber", "clinical"])
    number = (await numbers_with(client, "paid"))[0]
    page = await client.get(f"/portal/claims/{number}")
    assert page.status_code == 200 and "Status: Paid" in text(page)
    assert "may not see claim amounts" in text(page) and "eob.pdf" not in page.text
    pdf = await client.get(f"/portal/claims/{number}/eob.pdf")
    assert pdf.status_code == 403 and pdf.headers["content-type"].startswith("text/html")


async def test_amounts_a_clinical_role_may_not_see_say_so(portal: Portal) -> None:
    """The claims API leaves amounts out (null) for a role without billing: the list and
    the claim say "hidden for your role", never "None" or an empty cell."""
    client = await as_biller(portal, roles=["subscriber", "clinical"])
    listing = await client.get("/portal/claims", params={"status": "paid"})
    assert "hidden for your role" in text(listing) and "None" not in text(listing)
    number = claim_numbers(listing)[0]
    words = text(await client.get(f"/portal/claims/{number}"))
    assert "Paid by the plan hidden for your role" in words and "None" not in words


async def test_pages_go_forward_and_back_by_address(portal: Portal) -> None:
    client = await as_biller(portal)
    everything = claim_numbers(await client.get("/portal/claims", params={"per_page": "50"}))
    assert len(everything) == 16
    first = await client.get("/portal/claims", params={"per_page": "10"})
    assert claim_numbers(first) == everything[:10]
    assert link(first, "Previous page") is None
    following = link(first, "Next page")
    assert following and following.startswith("/portal/claims?per_page=10&cursor=")
    second = await client.get(following)
    assert claim_numbers(second) == everything[10:] and link(second, "Next page") is None
    back = link(second, "Previous page")
    assert back and link(second, "First page") == "/portal/claims?per_page=10"
    assert claim_numbers(await client.get(back)) == everything[:10]


async def test_a_search_form_leads_to_an_address_without_the_member_id(portal: Portal) -> None:
    client = await as_biller(portal)
    form = {"csrf_token": "csrf-1", "member_id": "M1000201", "status": "denied", "tin": ""}
    sent = await client.post("/portal/claims", data=form)
    assert sent.status_code == 303
    address = sent.headers["location"]
    assert "M1000201" not in address
    query = parse_qs(urlsplit(address).query)
    assert query["status"] == ["denied"] and set(query) == {"status", "member"}
    page = await client.get(address)
    assert page.status_code == 200
    rows = re.findall(r"<tr>.*?</tr>", page.text, re.S)[1:]
    assert len(rows) == 2 and all("M1000201" in r and "Denied" in r for r in rows)
    assert 'value="M1000201"' in page.text, "the form shows the member searched for"
    stranger = await client.get("/portal/claims", params={"member": "not-mine"})
    assert stranger.status_code == 422
    assert "Enter the member ID again" in text(stranger)


async def test_a_reversed_date_range_says_so(portal: Portal) -> None:
    client = await as_biller(portal)
    page = await client.get(
        "/portal/claims",
        params={"service_date_from": "2026-05-31", "service_date_to": "2026-03-01"},
    )
    assert page.status_code == 422
    assert (
        "Service dates: the range ends on Mar 1, 2026, before it starts on May 31, 2026. "
        "Swap the dates or change one." in text(page)
    )
    assert 'value="2026-05-31"' in page.text and 'value="2026-03-01"' in page.text


async def test_a_tax_id_that_is_not_yours_is_explained_plainly(portal: Portal) -> None:
    client = await as_biller(portal)
    page = await client.get("/portal/claims", params={"tin": "44-4444444"})
    assert page.status_code == 403
    shown = text(page)
    assert (
        "Tax ID 44-4444444 is not one of the Tax IDs your account bills under at this plan, "
        "so its claims cannot be shown. Leave Billing Tax ID empty to search all of yours"
    ) in shown
    assert "`" not in shown and "tin`" not in shown and " tin " not in shown


async def test_malformed_filters_are_named_in_words(portal: Portal) -> None:
    client = await as_biller(portal)
    page = await client.get(
        "/portal/claims",
        params={"tin": "12345", "status": "lost", "service_date_from": "31/03/2026"},
    )
    assert page.status_code == 422
    shown = text(page)
    assert "Billing Tax ID: use nine digits 0-9, like 12-3456789." in shown
    assert "Status: choose one from the list." in shown
    assert "Service date from: enter a date like 2026-03-31." in shown
    gone = await client.get("/portal/claims", params={"cursor": "bm90LWEtY3Vyc29y"})
    assert gone.status_code == 400
    assert "This page of results no longer exists" in text(gone)
