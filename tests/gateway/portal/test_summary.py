"""The eligibility page opens with a summary (covered or not, plan, PCP, what the member
pays for the service asked), then the detail; an answer that found no member says what
to check. Asked of the plan's real eligibility service, on its demo data."""

from __future__ import annotations

import html
import re
import time
from typing import Any

import httpx

from tests.gateway.portal.conftest import Plan, Portal

USER = {"username": "sam.biller", "name": "Sam Biller", "tax_ids": ["123456789"], "orgs": []}


async def signed_in(portal: Portal, user: dict[str, Any] | None = None, **claims: Any) -> str:
    token = portal.issuer.mint(**claims)
    tokens = {"access_token": token, "id_token": "id-1", "expires_at": time.time() + 300}
    data = {"sid": "sso-a", "sub": "u-1", "user": user or USER, "tokens": tokens, "csrf": "csrf-1"}
    await portal.sessions.save("sess-1", data)
    portal.client.cookies.set(portal.cookie, "sess-1", domain="portal.test", path="/portal")
    return token


async def check(portal: Portal, member_id: str, born: str, **more: str) -> str:
    form = {"csrf_token": "csrf-1", "member_id": member_id, "date_of_birth": born, **more}
    page = await portal.client.post("/portal/eligibility", data=form)
    assert page.status_code == 200, page.text
    return page.text


def text(page: str) -> str:
    """The page as words, tags dropped and spaces collapsed."""
    inline = re.sub(r"</?(time|span|strong)\b[^>]*>", "", page)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", inline)))


def summary_of(page: str) -> str:
    """The words of the result's summary: after the form, before the detail."""
    assert 'id="result"' in page and 'id="details"' in page
    return text(page.split('id="result"', 1)[1].split('id="details"', 1)[0])


async def answer(plan: Plan, token: str, **inquiry: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=plan.eligibility_url) as client:
        reply = await client.post(
            "/eligibility/v1/inquiries", json=inquiry, headers={"Authorization": f"Bearer {token}"}
        )
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


async def test_an_active_member_with_costs_is_summed_up_before_the_detail(
    portal_on_plan: Portal, plan: Plan
) -> None:
    token = await signed_in(portal_on_plan)
    html = await check(portal_on_plan, "M1000101", "1985-04-12", service_type="98")
    summary = summary_of(html)
    assert "Result: Active" in summary
    assert "Cascade Choice PPO (Cascade Health Plan)" in summary
    assert "Primary care provider (PCP) Evergreen Family Clinic (NPI" in summary
    assert "Your network status In network" in summary
    costs = "What the member pays: Professional (Physician) Visit - Office, in network"
    assert costs in summary
    assert "Copay $25.00" in summary and "Prior authorization Not required" in summary
    asked = await answer(plan, token, member_id="M1000101", date_of_birth="1985-04-12")
    met = {(a["kind"], a["level"], a["network"]): a for a in asked["accumulators"]}
    deductible = met[("deductible", "individual", "in_network")]
    left = f"${float(deductible['remaining']):,.2f} left of $1,500.00"
    assert f"Deductible {left}" in summary
    assert "Out-of-pocket maximum $" in summary and "left of $6,000.00" in summary
    assert "Urgent Care" not in summary, "only the service asked is summed up"


async def test_the_detail_follows_in_words_and_dollars(portal_on_plan: Portal) -> None:
    await signed_in(portal_on_plan)
    html = await check(portal_on_plan, "M1000101", "1985-04-12")
    detail = text(html.split('id="details"', 1)[1])
    assert "Benefits" in detail and "Your provider record used for this check" in detail
    assert "In network" in detail and "Out of network" in detail and "$250.00" in detail
    assert "Relationship to subscriber Subscriber" in detail
    assert "Date of birth Apr 12, 1985" in detail and "Plan code CHP" in detail
    assert "Cost share Applies to Network Yearly amount Met so far Remaining" in detail
    for raw in ("Npi", "Pcp", "Aaa", "in_network", "out_of_pocket", "None", "Matched provider"):
        assert raw not in text(html), raw


async def test_an_active_member_without_a_pcp_or_costs_met(portal_on_plan: Portal) -> None:
    await signed_in(portal_on_plan)
    html = await check(portal_on_plan, "M1000401", "1978-11-21")
    summary = summary_of(html)
    assert "Result: Active" in summary and "Cascade Select HMO" in summary
    assert "Primary care provider (PCP) No PCP on file" in summary
    assert "What the member pays: Health Benefit Plan Coverage, in network" in summary
    assert "Coinsurance 10%" in summary and "Deductible applies Yes" in summary
    assert "Deductible $500.00 left of $500.00 $1,000.00 left of $1,000.00" in summary


async def test_a_member_not_found_says_what_to_check_and_shows_no_provider(
    portal_on_plan: Portal,
) -> None:
    await signed_in(portal_on_plan)
    html = await check(portal_on_plan, "M9999901", "1990-01-01")
    words = text(html)
    assert "Result: Member not found" in words
    assert "Cascade Health Plan has no member with this member ID." in words
    assert "What to check" in words and "two-digit suffix" in words
    assert "Reject reason code (X12 AAA): 75: subscriber or insured not found" in words
    assert "provider record" not in words.lower() and "Matched provider" not in words
    assert 'id="details"' not in html and "Evergreen" not in words


async def test_a_wrong_date_of_birth_says_to_check_it(portal_on_plan: Portal) -> None:
    await signed_in(portal_on_plan)
    words = text(await check(portal_on_plan, "M1000102", "1987-09-18"))
    assert "Result: Member not found" in words
    assert "but with another date of birth" in words and "month and day" in words
    assert "Sam" not in words.replace("Sam Biller", ""), "nothing about the member shows"


async def test_coverage_that_ended_is_not_active_with_its_dates(portal_on_plan: Portal) -> None:
    await signed_in(portal_on_plan)
    words = text(await check(portal_on_plan, "M1000201", "1962-09-30"))
    assert "Result: Not active" in words
    assert "(coverage Jan 1, 2023 to Dec 31, 2025)" in words
    assert "no coverage in effect on the date of service" in words
    assert "What the member pays" not in words


async def test_out_of_network_without_a_benefit_says_to_call_the_plan(
    portal_on_plan: Portal,
) -> None:
    """Lakeside Orthopedics is out of network for the HMO, which pays no office visit there."""
    await signed_in(portal_on_plan, tax_ids=["444444444"])
    html = await check(portal_on_plan, "M1000401", "1978-11-21", service_type="98")
    summary = summary_of(html)
    assert "Your network status Out of network" in summary
    assert (
        "No benefit for Professional (Physician) Visit - Office at your network status "
        "(out of network). Call the plan's Provider Network department" in summary
    )
    assert "Remaining this plan year" not in summary
