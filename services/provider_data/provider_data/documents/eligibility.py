"""Eligibility requests and answers (X12 270/271-like), with OpenAPI examples."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, field_validator

from policy.inputs import Input
from provider_data.documents.identifiers import Npi
from provider_data.documents.x12 import SERVICE_TYPES

Amount = Annotated[Decimal, PlainSerializer(lambda v: f"{v:.2f}", return_type=str)]
Network = Literal["in_network", "out_of_network"]

INQUIRY_EXAMPLE: dict[str, Any] = {
    "member_id": "M10001*01",
    "date_of_birth": "1985-04-12",
    "last_name": "Rivera",
    "date_of_service": "2026-03-02",
    "service_type_codes": ["98", "UC"],
}


class Inquiry(Input):  # no control characters in any string (policy.inputs)
    model_config = ConfigDict(json_schema_extra={"examples": [INQUIRY_EXAMPLE]})

    member_id: str = Field(
        min_length=1,
        max_length=24,
        description="As printed on the card; a `*` before the two-digit suffix is optional.",
    )
    date_of_birth: date
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    date_of_service: date | None = Field(default=None, description="Defaults to today.")
    service_type_codes: list[str] = Field(
        default_factory=lambda: ["30"],
        max_length=20,
        description="X12 service type codes; 30 (plan coverage) answers every benefit.",
    )
    provider_npi: Npi | None = Field(
        default=None,
        description="The inquiring provider; defaults to the first record under your TINs.",
    )

    @field_validator("service_type_codes")
    @classmethod
    def _known_codes(cls, codes: list[str]) -> list[str]:
        unknown = [c for c in codes if c.upper() not in SERVICE_TYPES]
        if unknown:
            raise ValueError(
                f"unknown service type code(s) {', '.join(unknown)}; "
                f"known: {', '.join(SERVICE_TYPES)}"
            )
        return [c.upper() for c in codes] or ["30"]


class BatchInquiry(Input):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "inquiries": [
                        INQUIRY_EXAMPLE,
                        {"member_id": "M9999901", "date_of_birth": "1990-01-01"},
                    ]
                }
            ]
        }
    )

    inquiries: list[Inquiry] = Field(min_length=1, max_length=100)


class MemberOut(BaseModel):
    member_id: str
    subscriber_id: str
    suffix: str
    relation: str
    first_name: str
    last_name: str
    date_of_birth: date


class PlanOut(BaseModel):
    code: str
    name: str
    product_code: str
    product: str


class CoverageOut(BaseModel):
    effective_date: date
    termination_date: date | None


class LocationOut(BaseModel):
    address_line: str
    city: str
    state: str
    postal_code: str


class ProviderOut(BaseModel):
    npi: str
    tin: str
    name: str
    taxonomy: str | None = None
    effective_from: date
    effective_to: date | None
    locations: list[LocationOut] = []


class PcpOut(BaseModel):
    npi: str
    name: str


class BenefitOut(BaseModel):
    service_type_code: str
    service_type: str
    network: Network
    covered: bool
    copay: Amount
    coinsurance_percent: int
    deductible_applies: bool
    prior_auth_required: bool
    visit_limit: int | None
    visits_used: int | None


class AccumulatorOut(BaseModel):
    kind: Literal["deductible", "out_of_pocket"]
    level: Literal["individual", "family"]
    network: Network
    amount: Amount
    met: Amount
    remaining: Amount


Status = Literal["active", "inactive", "not_found"]
Reason = Literal[
    "member_not_found", "date_of_birth_mismatch", "name_mismatch", "coverage_not_active"
]


ANSWER_EXAMPLE: dict[str, Any] = {
    "status": "active",
    "reason": None,
    "aaa_reject_code": None,
    "date_of_service": "2026-03-02",
    "service_type_codes": ["98"],
    "member": {
        "member_id": "M1000101",
        "subscriber_id": "M10001",
        "suffix": "01",
        "relation": "subscriber",
        "first_name": "Jordan",
        "last_name": "Rivera",
        "date_of_birth": "1985-04-12",
    },
    "plan": {
        "code": "CHP",
        "name": "Cascade Health Plan",
        "product_code": "CHP-PPO",
        "product": "Cascade Choice PPO",
    },
    "coverage": {"effective_date": "2025-01-01", "termination_date": None},
    "network": "in_network",
    "pcp": {"npi": "1234567893", "name": "Evergreen Family Clinic"},
    "benefits": [
        {
            "service_type_code": "98",
            "service_type": "Professional (Physician) Visit - Office",
            "network": "in_network",
            "covered": True,
            "copay": "25.00",
            "coinsurance_percent": 0,
            "deductible_applies": False,
            "prior_auth_required": False,
            "visit_limit": None,
            "visits_used": None,
        }
    ],
    "accumulators": [
        {
            "kind": "deductible",
            "level": "individual",
            "network": "in_network",
            "amount": "1500.00",
            "met": "350.00",
            "remaining": "1150.00",
        }
    ],
    "matched_provider": {
        "npi": "1234567893",
        "tin": "123456789",
        "name": "Evergreen Family Clinic",
        "taxonomy": "261QP2300X",
        "effective_from": "2020-01-01",
        "effective_to": None,
        "locations": [
            {
                "address_line": "100 Evergreen Way",
                "city": "Tacoma",
                "state": "WA",
                "postal_code": "98402",
            }
        ],
    },
}


class EligibilityAnswer(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [ANSWER_EXAMPLE]})

    status: Status
    reason: Reason | None = None
    aaa_reject_code: str | None = Field(
        default=None, description="The X12 271 AAA reject reason code (75, 71, 73)."
    )
    date_of_service: date
    service_type_codes: list[str]
    member: MemberOut | None = None
    plan: PlanOut | None = None
    coverage: CoverageOut | None = None
    network: Network | None = Field(
        default=None, description="The matched provider's network status for this product."
    )
    pcp: PcpOut | None = None
    benefits: list[BenefitOut] = []
    accumulators: list[AccumulatorOut] = []
    matched_provider: ProviderOut


class BatchEntry(BaseModel):
    index: int
    outcome: Literal["answered", "refused"]
    answer: EligibilityAnswer | None = None
    problem: dict[str, Any] | None = None


class BatchAnswer(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "results": [
                        {"index": 0, "outcome": "answered", "answer": ANSWER_EXAMPLE},
                        {
                            "index": 1,
                            "outcome": "refused",
                            "problem": {
                                "type": "https://tinpass.dev/problems/no-matching-provider-record",
                                "title": "Access denied",
                                "status": 403,
                                "detail": "The Tax IDs on your account (12-3456789) match no "
                                "provider record at this health plan. ...",
                                "reason": "no_matching_provider_record",
                            },
                        },
                    ]
                }
            ]
        }
    )

    results: list[BatchEntry]
