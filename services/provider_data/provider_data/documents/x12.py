"""The X12 vocabulary these services answer in: service type codes (270/271),
claim adjustment reason codes (CARC) and remittance advice remark codes (RARC)."""

from __future__ import annotations

SERVICE_TYPES: dict[str, str] = {
    "1": "Medical Care",
    "4": "Diagnostic X-Ray",
    "5": "Diagnostic Lab",
    "30": "Health Benefit Plan Coverage",
    "33": "Chiropractic",
    "47": "Hospital",
    "48": "Hospital - Inpatient",
    "50": "Hospital - Outpatient",
    "86": "Emergency Services",
    "88": "Pharmacy",
    "98": "Professional (Physician) Visit - Office",
    "AL": "Vision (Optometry)",
    "MH": "Mental Health",
    "PT": "Physical Therapy",
    "UC": "Urgent Care",
}
PLAN_COVERAGE = "30"

# 271 AAA reject reason codes for the answers that find no eligible member.
AAA_REASONS: dict[str, str] = {
    "member_not_found": "75",  # Subscriber/Insured Not Found
    "date_of_birth_mismatch": "71",  # Patient Birth Date Does Not Match That for the Patient
    "name_mismatch": "73",  # Invalid/Missing Subscriber/Insured Name
}

CARC: dict[str, str] = {
    "1": "Deductible amount.",
    "2": "Coinsurance amount.",
    "3": "Co-payment amount.",
    "45": "Charge exceeds fee schedule/maximum allowable or contracted/legislated fee arrangement.",
    "50": "These are non-covered services because this is not deemed a 'medical necessity' "
    "by the payer.",
    "96": "Non-covered charge(s).",
    "119": "Benefit maximum for this time period or occurrence has been reached.",
    "133": "The disposition of this service line is pending further review.",
    "197": "Precertification/authorization/notification/pre-treatment absent.",
    "242": "Services not provided by network/primary care providers.",
}

RARC: dict[str, str] = {
    "M51": "Missing/incomplete/invalid procedure code(s).",
    "N130": "Consult plan benefit documents/guidelines for information about restrictions.",
    "N362": "The number of Days or Units of Service exceeds our acceptable maximum.",
    "M62": "Missing/incomplete/invalid treatment authorization code.",
    "MA01": "Alert: If you do not agree with what we approved for these services, you may appeal.",
    "N10": "Adjustment based on the findings of a review organization/professional consult/manual "
    "adjudication/medical advisor/dental advisor/peer review.",
}
