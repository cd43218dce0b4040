"""The portal's one place for labels: API fields and codes in words, dollars, dates."""

from __future__ import annotations

from decimal import Decimal

from gateway.portal import labels
from provider_data.documents.x12 import AAA_REASONS, SERVICE_TYPES
from tests.gateway.portal.conftest import Portal
from tests.gateway.portal.test_summary import USER, signed_in, text


def test_fields_read_as_words_with_their_acronyms() -> None:
    assert labels.label("npi") == "NPI"
    assert labels.label("pcp") == "Primary care provider (PCP)"
    assert labels.label("aaa_reject_code") == "Reject reason code (X12 AAA)"
    assert labels.label("billing_npi") == "Billing NPI"
    assert labels.label("some_new_member_id") == "Some new member ID"
    assert labels.label("code", "plan") == "Plan code" and labels.label("code") == "Code"
    assert labels.label("amount", "accumulators") == "Yearly amount"


def test_codes_read_as_words() -> None:
    assert labels.code("in_network", "network") == "In network"
    assert labels.code("out_of_pocket", "kind") == "Out-of-pocket maximum"
    assert labels.code("partially_paid", "status") == "Partly paid"
    assert labels.code("98", "service_type_codes") == "98: Professional (Physician) Visit - Office"
    assert labels.code("a_new_code", "status") == "A new code"
    assert labels.code(None, "status") == "none"


def test_amounts_are_dollars_and_a_left_out_amount_is_hidden_by_role() -> None:
    assert labels.dollars("1234.5") == "$1,234.50"
    assert labels.dollars(Decimal("0")) == "$0.00"
    assert labels.dollars("-25.00") == "-$25.00"
    assert labels.dollars(None) == "hidden for your role"
    assert labels.value(None, "paid_amount") == "hidden for your role"


def test_values_by_field() -> None:
    assert labels.value("2026-03-02", "service_date") == (
        '<time datetime="2026-03-02">Mar 2, 2026</time>'
    )
    assert labels.value(None, "termination_date") == "No end date"
    assert labels.value(20, "coinsurance_percent") == "20%"
    assert labels.value(True, "covered") == "Yes"
    assert labels.value("123456789", "billing_tin") == "12-3456789"
    assert labels.value("<b>", "note") == "<b>"  # escaped by the template, never markup


def test_the_portal_knows_every_code_the_plan_answers_with() -> None:
    assert labels.SERVICE_TYPES == SERVICE_TYPES
    assert set(AAA_REASONS.values()) <= labels.CODES["aaa_reject_code"].keys()
    assert set(AAA_REASONS) <= labels.CODES["reason"].keys()


async def test_the_home_page_words_roles_and_network_status(portal_on_plan: Portal) -> None:
    org = {"name": "Evergreen Health", "tax_ids": ["123456789"], "roles": ["billing", "subscriber"]}
    await signed_in(portal_on_plan, user={**USER, "orgs": [org]})
    words = text((await portal_on_plan.client.get("/portal/")).text)
    assert "roles Billing (claims and amounts), Portal user" in words
    assert "Evergreen Family Clinic (Tax ID 12-3456789, NPI" in words
    assert "in network)" in words and "in_network" not in words and "TIN " not in words


async def test_a_refused_field_is_named_in_words(portal_on_plan: Portal) -> None:
    await signed_in(portal_on_plan)
    form = {"csrf_token": "csrf-1", "member_id": "M1000101", "date_of_birth": "12/04/1985"}
    page = await portal_on_plan.client.post("/portal/eligibility", data=form)
    assert page.status_code == 422
    assert "Date of birth: " in text(page.text) and "date_of_birth" not in text(page.text)
