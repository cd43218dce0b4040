"""What the plan's API field names and code values say to a person, in one place.

Every portal page shows API fields and codes through these (as Jinja filters, views.py):
`label` names a field ("npi" -> "NPI", "pcp" -> "Primary care provider (PCP)"),
`code` words a value of a field ("in_network" -> "In network"), `dollars` writes an
amount as "$1,234.50", `day` a date as "Mar 2, 2026", and `value` picks the right one
of these for a field. The plan's APIs leave an amount out (null) only where the
person's role may not see it (clinical staff see no claim amounts): such an amount
reads "hidden for your role". Fields and codes not listed here are still shown, their
name or code turned into words ("out_of_network" -> "Out of network").
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from markupsafe import Markup

HIDDEN = "hidden for your role"
NOTHING = "none"

FIELDS: dict[str, str] = {
    # eligibility (X12 270/271-like)
    "npi": "NPI",
    "tin": "Tax ID",
    "pcp": "Primary care provider (PCP)",
    "aaa_reject_code": "Reject reason code (X12 AAA)",
    "member_id": "Member ID",
    "subscriber_id": "Subscriber ID",
    "suffix": "Member suffix",
    "relation": "Relationship to subscriber",
    "date_of_birth": "Date of birth",
    "date_of_service": "Date of service",
    "service_type_codes": "Types of service asked about",
    "product_code": "Product code",
    "effective_date": "Coverage start",
    "termination_date": "Coverage end",
    "taxonomy": "Taxonomy code",
    "effective_from": "Record in effect from",
    "effective_to": "Record in effect until",
    "address_line": "Address",
    "postal_code": "ZIP code",
    "service_type_code": "Service type code",
    "service_type": "Type of service",
    "coinsurance_percent": "Coinsurance",
    "prior_auth_required": "Prior authorization required",
    "visits_used": "Visits used",
    "met": "Met so far",
    "matched_provider": "Your provider record used for this check",
    "network_status": "Network status",
    # claims (276/277-like) and the explanation of benefits
    "patient_control_number": "Patient account number",
    "billing_tin": "Billing Tax ID",
    "billing_npi": "Billing NPI",
    "rendering_npi": "Rendering NPI",
    "received_date": "Received",
    "adjudicated_date": "Processed",
    "category_code": "Status category (X12 277)",
    "patient_responsibility": "Patient responsibility",
    "history": "Status history",
    "on": "Date",
    "line_number": "Line",
    "adjustments": "Adjustments (CARC)",
    "group_code": "Adjustment group",
    "reason_code": "Reason code (CARC)",
    "remarks": "Remarks (RARC)",
    # a field's label inside one object or list ("plan.code"), before its label anywhere
    "plan.code": "Plan code",
    "plan.name": "Plan name",
    "accumulators.kind": "Cost share",
    "accumulators.level": "Applies to",
    "accumulators.amount": "Yearly amount",
    "remarks.code": "Remark code (RARC)",
}
# Words inside a field name that are written otherwise ("billing_npi" -> "Billing NPI").
WORDS = {"npi": "NPI", "tin": "Tax ID", "pcp": "PCP", "id": "ID", "aaa": "AAA", "eob": "EOB"}

NETWORK = {"in_network": "In network", "out_of_network": "Out of network"}
CODES: dict[str, dict[str, str]] = {
    "network": NETWORK,
    "network_status": NETWORK,
    "status": {
        "active": "Active",
        "inactive": "Not active",
        "not_found": "Member not found",
        "received": "Received, not yet processed",
        "pended": "Pending review",
        "paid": "Paid",
        "partially_paid": "Partly paid",
        "denied": "Denied",
    },
    "reason": {
        "member_not_found": "No member with this member ID",
        "date_of_birth_mismatch": "The date of birth does not match the member's",
        "name_mismatch": "The name does not match the member's",
        "coverage_not_active": "No coverage in effect on the date of service",
    },
    "role": {
        "administrator": "Administrator",
        "subscriber": "Portal user",
        "billing": "Billing (claims and amounts)",
        "clinical": "Clinical (eligibility and claim status, no amounts)",
    },
    "relation": {"subscriber": "Subscriber", "spouse": "Spouse", "child": "Child"},
    "kind": {"deductible": "Deductible", "out_of_pocket": "Out-of-pocket maximum"},
    "level": {"individual": "Individual", "family": "Family"},
    "aaa_reject_code": {
        "75": "75: subscriber or insured not found",
        "71": "71: birth date does not match",
        "73": "73: invalid or missing name",
    },
    "category_code": {
        "A1": "A1: received",
        "P1": "P1: pending",
        "F1": "F1: finalized, paid",
        "F2": "F2: finalized, denied",
    },
    "group_code": {  # X12 claim adjustment groups: who bears an adjustment
        "CO": "Contractual obligation (provider write-off)",
        "PR": "Patient responsibility",
        "OA": "Other adjustment",
        "PI": "Payer-initiated reduction",
        "CR": "Correction or reversal",
    },
}
# X12 service type codes (the same list as provider_data.documents.x12.SERVICE_TYPES;
# tests/gateway/portal/test_labels.py keeps them equal).
SERVICE_TYPES: dict[str, str] = {
    "30": "Health Benefit Plan Coverage",
    "1": "Medical Care",
    "98": "Professional (Physician) Visit - Office",
    "UC": "Urgent Care",
    "86": "Emergency Services",
    "47": "Hospital",
    "48": "Hospital - Inpatient",
    "50": "Hospital - Outpatient",
    "4": "Diagnostic X-Ray",
    "5": "Diagnostic Lab",
    "PT": "Physical Therapy",
    "MH": "Mental Health",
    "33": "Chiropractic",
    "AL": "Vision (Optometry)",
    "88": "Pharmacy",
}
CODES["service_type_codes"] = {code: f"{code}: {name}" for code, name in SERVICE_TYPES.items()}

MONEY = frozenset(
    {
        "copay",
        "amount",
        "met",
        "remaining",
        "billed_amount",
        "allowed_amount",
        "paid_amount",
        "patient_responsibility",
        "charge",
        "allowed",
        "deductible",
        "coinsurance",
        "paid",
        "total_charge",
    }
)
# What an empty (null) value of these fields means.
UNSET = {
    "termination_date": "No end date",
    "effective_to": "No end date",
    "visit_limit": "No limit",
    "pcp": "No PCP on file",
    "denial_reason": NOTHING,
}
PERCENT = frozenset({"coinsurance_percent"})
TINS = frozenset({"tin", "billing_tin"})
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def words(name: str) -> str:
    """A name or code in words: `out_of_network` -> `Out of network`."""
    parts = [WORDS.get(part.lower(), part) for part in str(name).replace("_", " ").split()]
    text = " ".join(parts)
    return text[:1].upper() + text[1:]


def label(name: Any, within: str = "") -> str:
    """The label of an API field (inside the object or list named `within`), in words."""
    return FIELDS.get(f"{within}.{name}") or FIELDS.get(str(name)) or words(str(name))


def code(value: Any, field: str = "") -> str:
    """A code value of `field` in words; unknown codes turned into words as they are."""
    if value is None or value == "":
        return NOTHING
    known = CODES.get(field, {}).get(str(value))
    return known if known is not None else words(str(value))


def dollars(value: Any) -> str:
    """An amount as dollars and cents, `$1,234.50`; a left-out amount is hidden by role."""
    if value is None:
        return HIDDEN
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


def day(value: Any) -> Markup | str:
    """An ISO date (`2026-03-02`) as `Mar 2, 2026`, in a `<time>` element; else as it is."""
    if value is None or value == "":
        return NOTHING
    text = str(value)
    if not DATE.fullmatch(text):
        return text
    try:
        parsed = date.fromisoformat(text)
    except ValueError:
        return text
    readable = f"{parsed:%b} {parsed.day}, {parsed.year}"
    return Markup('<time datetime="{}">{}</time>').format(text, readable)


def format_tin(tin: Any) -> str:
    text = str(tin or "")
    return f"{text[:2]}-{text[2:]}" if re.fullmatch(r"[0-9]{9}", text) else text


def value(item: Any, field: str = "") -> Markup | str:
    """One value of `field` as a page shows it: dollars, percent, date, Tax ID or words."""
    if field in MONEY:
        return dollars(item)
    if item is None:
        return UNSET.get(field, "—")
    if isinstance(item, bool):
        return "Yes" if item else "No"
    if field in PERCENT:
        return f"{item}%"
    if field in TINS:
        return format_tin(item)
    if field in CODES:
        return code(item, field)
    if isinstance(item, str) and DATE.fullmatch(item):
        return day(item)
    return str(item)
