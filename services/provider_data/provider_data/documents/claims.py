"""Claim submission (modelled on the X12 837P) and claim answers (276/277-like, EOB)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from policy.inputs import Input
from provider_data.documents.eligibility import Amount
from provider_data.documents.identifiers import TaxId

Status = Literal["received", "pended", "paid", "denied", "partially_paid"]

CLAIM_EXAMPLE: dict[str, Any] = {
    "patient_control_number": "EV-2026-0001",
    "billing_provider": {"npi": "1234567893", "tin": "123456789"},
    "rendering_provider_npi": "1234567893",
    "member": {"member_id": "M10001*01", "date_of_birth": "1985-04-12"},
    "place_of_service": "11",
    "diagnoses": ["J06.9", "R05.9"],
    "total_charge": "210.00",
    "lines": [
        {
            "procedure_code": "99213",
            "modifiers": ["25"],
            "units": 1,
            "charge": "150.00",
            "service_date": "2026-03-02",
            "diagnosis_pointers": [1, 2],
        },
        {"procedure_code": "80053", "units": 1, "charge": "60.00", "service_date": "2026-03-02"},
    ],
}


class BillingProvider(Input):
    """Loop 2010AA: the billing provider's NPI and Tax ID."""

    npi: str = Field(min_length=1, max_length=10)
    tin: TaxId


class Patient(Input):
    """Loop 2010BA: the member as on the card (a `*` before the suffix is optional)."""

    member_id: str = Field(min_length=1, max_length=24)
    date_of_birth: date | None = None


class ServiceLine(Input):
    """Loop 2400: SV1 (procedure, modifiers, charge, units) and DTP*472 (service date)."""

    procedure_code: str = Field(min_length=1, max_length=5)
    modifiers: list[str] = Field(default_factory=list, max_length=4)
    units: int = Field(default=1, ge=1, le=999)
    charge: Decimal = Field(gt=0, max_digits=10, decimal_places=2)
    service_date: date
    diagnosis_pointers: list[int] = Field(default_factory=lambda: [1], max_length=4)


class ClaimIn(Input):  # no control characters in any string (policy.inputs)
    model_config = ConfigDict(json_schema_extra={"examples": [CLAIM_EXAMPLE]})

    patient_control_number: str = Field(
        min_length=1, max_length=38, description="CLM01: the provider's own account number."
    )
    billing_provider: BillingProvider
    rendering_provider_npi: str | None = Field(default=None, max_length=10)
    member: Patient
    place_of_service: str = Field(default="11", pattern=r"^[0-9]{2}$")
    prior_authorization: str | None = Field(default=None, max_length=30)
    diagnoses: list[str] = Field(default_factory=list, max_length=12, description="ICD-10-CM")
    total_charge: Decimal = Field(gt=0, max_digits=12, decimal_places=2, description="CLM02")
    lines: list[ServiceLine] = Field(min_length=1, max_length=50)


class BulkClaims(Input):
    model_config = ConfigDict(json_schema_extra={"examples": [{"claims": [CLAIM_EXAMPLE]}]})

    claims: list[dict[str, Any]] = Field(
        min_length=1, max_length=1000, description="Up to 1,000 claims, each checked on its own."
    )


class Edit(BaseModel):
    """A front-end edit that rejected the claim."""

    code: str
    description: str
    field: str | None = None


class StatusEventOut(BaseModel):
    status: Status
    on: date
    note: str


CLAIM_OUT_EXAMPLE: dict[str, Any] = {
    "claim_number": "C-2026-00000031",
    "patient_control_number": "EV-2026-0001",
    "member_id": "M1000101",
    "billing_tin": "123456789",
    "billing_npi": "1234567893",
    "rendering_npi": "1234567893",
    "network": "in_network",
    "service_date": "2026-03-02",
    "received_date": "2026-03-05",
    "adjudicated_date": "2026-03-05",
    "status": "paid",
    "category_code": "F1",
    "billed_amount": "210.00",
    "allowed_amount": "106.00",
    "paid_amount": "67.00",
    "patient_responsibility": "39.00",
    "denial_reason": None,
    "history": [
        {"status": "received", "on": "2026-03-05", "note": "received electronically"},
        {"status": "paid", "on": "2026-03-05", "note": "processed as primary"},
    ],
}
# X12 277 claim status category codes for each status.
CATEGORY = {"received": "A1", "pended": "P1", "paid": "F1", "partially_paid": "F1", "denied": "F2"}


class ClaimOut(BaseModel):
    """Claim status (276/277-like). Amounts are null for roles that may not see them."""

    model_config = ConfigDict(json_schema_extra={"examples": [CLAIM_OUT_EXAMPLE]})

    claim_number: str
    patient_control_number: str | None
    member_id: str
    billing_tin: str
    billing_npi: str
    rendering_npi: str | None
    network: str | None
    service_date: date
    received_date: date
    adjudicated_date: date | None
    status: Status
    category_code: str = Field(
        description="X12 277 category: A1 received, P1 pending, F1 paid, F2 denied."
    )
    billed_amount: Amount | None = None
    allowed_amount: Amount | None = None
    paid_amount: Amount | None = None
    patient_responsibility: Amount | None = None
    denial_reason: str | None
    history: list[StatusEventOut] = []


EDIT_EXAMPLE: dict[str, Any] = {
    "code": "coverage_not_active",
    "description": "Member M1000201 has no coverage in effect on 2026-02-02.",
    "field": "lines",
}


class ClaimResult(BaseModel):
    index: int
    outcome: Literal["accepted", "rejected"]
    claim: ClaimOut | None = None
    edits: list[Edit] = []


class BulkResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "accepted": 1,
                    "rejected": 1,
                    "results": [
                        {
                            "index": 0,
                            "outcome": "accepted",
                            "claim": CLAIM_OUT_EXAMPLE,
                            "edits": [],
                        },
                        {"index": 1, "outcome": "rejected", "claim": None, "edits": [EDIT_EXAMPLE]},
                    ],
                }
            ]
        }
    )

    accepted: int
    rejected: int
    results: list[ClaimResult]


class ClaimList(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "claims": [CLAIM_OUT_EXAMPLE],
                    "count": 1,
                    "next_cursor": "MjAyNi0wMy0wMnwzMQ",
                    "previous_cursor": None,
                }
            ]
        }
    )

    claims: list[ClaimOut]
    count: int
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; null on the last page."
    )
    previous_cursor: str | None = Field(
        default=None,
        description="Pass as `cursor` for the page before (newer claims); null on the first page.",
    )


class AdjustmentOut(BaseModel):
    group_code: str
    reason_code: str
    description: str
    amount: Amount


class RemarkOut(BaseModel):
    code: str
    description: str


class EobLine(BaseModel):
    line_number: int
    procedure_code: str
    modifiers: list[str]
    units: int
    service_date: date
    service_type_code: str | None
    service_type: str | None = Field(
        default=None, description="The X12 service type's name, e.g. Diagnostic Lab."
    )
    status: str
    charge: Amount
    allowed: Amount
    deductible: Amount
    copay: Amount
    coinsurance: Amount
    paid: Amount
    patient_responsibility: Amount
    adjustments: list[AdjustmentOut]
    remarks: list[RemarkOut]


class Eob(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "claim": CLAIM_OUT_EXAMPLE,
                    "lines": [
                        {
                            "line_number": 1,
                            "procedure_code": "99213",
                            "modifiers": [],
                            "units": 1,
                            "service_date": "2026-03-02",
                            "service_type_code": "98",
                            "service_type": "Professional (Physician) Visit - Office",
                            "status": "paid",
                            "charge": "150.00",
                            "allowed": "92.00",
                            "deductible": "0.00",
                            "copay": "25.00",
                            "coinsurance": "0.00",
                            "paid": "67.00",
                            "patient_responsibility": "25.00",
                            "adjustments": [
                                {
                                    "group_code": "CO",
                                    "reason_code": "45",
                                    "description": "Charge exceeds fee schedule/maximum "
                                    "allowable or contracted/legislated fee arrangement.",
                                    "amount": "58.00",
                                },
                                {
                                    "group_code": "PR",
                                    "reason_code": "3",
                                    "description": "Co-payment amount.",
                                    "amount": "25.00",
                                },
                            ],
                            "remarks": [],
                        }
                    ],
                }
            ]
        }
    )

    claim: ClaimOut
    lines: list[EobLine]
