"""Front-end edits: the checks a claim must pass before adjudication, each with a
stable code and a description a billing office can act on (277CA-like rejections)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from provider_data.documents import npi
from provider_data.documents.claims import ClaimIn, Edit
from provider_data.platform.models import Coverage, Member, ProviderRecord

ICD10CM = re.compile(r"^[A-TV-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?$")
PROCEDURE = re.compile(r"^([0-9]{4}[0-9FTU]|[A-V][0-9]{4})$")

EDITS: dict[str, str] = {
    "invalid_format": "The claim does not follow the submission format: {detail}.",
    "invalid_billing_npi": "The billing provider NPI {value} is not a valid NPI (10 digits "
    "with a Luhn check digit).",
    "invalid_rendering_npi": "The rendering provider NPI {value} is not a valid NPI.",
    "missing_diagnosis": "The claim carries no diagnosis code; add at least one ICD-10-CM code.",
    "invalid_diagnosis_code": "{value} is not an ICD-10-CM code (e.g. J06.9).",
    "invalid_diagnosis_pointer": "Line {line} points at diagnosis {value}, which the claim "
    "does not have.",
    "invalid_procedure_code": "Line {line}: {value} is not a CPT or HCPCS code.",
    "service_date_in_future": "Line {line}: the service date {value} is in the future.",
    "total_charge_mismatch": "The total charge {value} differs from the sum of the line "
    "charges ({detail}).",
    "billing_tin_not_authorized": "The billing Tax ID {value} is not one of your account's "
    "Tax IDs.",
    "billing_provider_not_on_record": "No provider record with NPI {value} under this Tax ID "
    "is in effect on {detail}; check the NPI and Tax ID, or contact provider services.",
    "member_not_found": "No member {value} was found; check the ID on the member's card.",
    "date_of_birth_mismatch": "The date of birth does not match member {value}.",
    "too_many_failed_matches": "Too many recent claims or inquiries about member {value}, or "
    "from this application, gave a date of birth that did not match; to protect members' data "
    "the member is not checked for {detail} s. Check the date of birth with the patient and "
    "submit again after that, or call the plan.",
    "coverage_not_active": "Member {value} has no coverage in effect on {detail}.",
    "duplicate_claim": "This claim duplicates claim {value} (same member, Tax ID, service "
    "date, procedures and charge).",
}


def edit(code: str, field: str | None = None, **values: object) -> Edit:
    return Edit(code=code, description=EDITS[code].format(**values), field=field)


@dataclass
class Context:
    member: Member
    coverage: Coverage
    provider: ProviderRecord
    network: str


def first_service_date(claim: ClaimIn) -> date:
    return min(line.service_date for line in claim.lines)


def static_edits(claim: ClaimIn, today: date) -> list[Edit]:
    """The checks that need nothing but the claim itself."""
    found: list[Edit] = []
    billing = claim.billing_provider.npi
    if not npi.is_valid(billing):
        found.append(edit("invalid_billing_npi", "billing_provider.npi", value=billing))
    rendering = claim.rendering_provider_npi
    if rendering is not None and not npi.is_valid(rendering):
        found.append(edit("invalid_rendering_npi", "rendering_provider_npi", value=rendering))
    if not claim.diagnoses:
        found.append(edit("missing_diagnosis", "diagnoses"))
    for index, code in enumerate(claim.diagnoses):
        if not ICD10CM.match(code.upper()):
            found.append(edit("invalid_diagnosis_code", f"diagnoses.{index}", value=code))
    found.extend(_line_edits(claim, today))
    total = sum((line.charge for line in claim.lines), Decimal("0"))
    if total != claim.total_charge:
        found.append(
            edit("total_charge_mismatch", "total_charge", value=claim.total_charge, detail=total)
        )
    return found


def _line_edits(claim: ClaimIn, today: date) -> list[Edit]:
    found: list[Edit] = []
    for number, line in enumerate(claim.lines, start=1):
        where = f"lines.{number - 1}"
        if not PROCEDURE.match(line.procedure_code.upper()):
            found.append(
                edit(
                    "invalid_procedure_code",
                    f"{where}.procedure_code",
                    line=number,
                    value=line.procedure_code,
                )
            )
        if line.service_date > today:
            found.append(
                edit(
                    "service_date_in_future",
                    f"{where}.service_date",
                    line=number,
                    value=line.service_date,
                )
            )
        for pointer in line.diagnosis_pointers:
            if claim.diagnoses and not 1 <= pointer <= len(claim.diagnoses):
                found.append(
                    edit(
                        "invalid_diagnosis_pointer",
                        f"{where}.diagnosis_pointers",
                        line=number,
                        value=pointer,
                    )
                )
    return found
