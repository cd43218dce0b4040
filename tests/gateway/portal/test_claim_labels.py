"""Claim pages through labels.py: dollars, dates and words, and amounts a clinical role
may not see said to be hidden (the claim pages' own tests: test_claim_pages.py)."""

from __future__ import annotations

import re

from tests.gateway.portal.conftest import Portal
from tests.gateway.portal.test_summary import signed_in, text


async def test_claim_pages_show_dollars_dates_and_words(portal_on_plan: Portal) -> None:
    await signed_in(portal_on_plan)
    listing = (await portal_on_plan.client.get("/portal/claims")).text
    for number in re.findall(r'href="/portal/claims/([A-Z0-9-]+)"', listing):
        words = text((await portal_on_plan.client.get(f"/portal/claims/{number}")).text)
        if "Status: Denied" in words:
            break
    assert "Status: Denied" in words and "F2: finalized, denied" in words
    assert re.search(r"Billed amount \$[0-9,]+\.[0-9]{2}", words)
    assert re.search(r"Service date [A-Z][a-z]{2} [0-9]{1,2}, 20[0-9]{2}", words)
    assert "Remark code (RARC) Description M62" in words
    assert "Adjustment group Reason code (CARC) Description Amount Contractual obligation" in words
    assert "Yearly amount" not in words and "Plan code" not in words
    for raw in ("Npi", "None", "in_network", "partially_paid", "Category code"):
        assert raw not in words, raw


async def test_claim_amounts_hidden_from_a_clinical_role_say_so(portal_on_plan: Portal) -> None:
    await signed_in(portal_on_plan, roles=["subscriber", "clinical"])
    listing = (await portal_on_plan.client.get("/portal/claims")).text
    assert "hidden for your role" in text(listing) and "None" not in text(listing)
    number = re.search(r'href="/portal/claims/([A-Z0-9-]+)"', listing)
    assert number is not None
    words = text((await portal_on_plan.client.get(f"/portal/claims/{number[1]}")).text)
    assert "Paid amount hidden for your role" in words and "None" not in words
