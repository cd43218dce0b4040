"""A stored claim as the API shows it (276/277-like), with or without its amounts."""

from __future__ import annotations

from provider_data.documents.claims import CATEGORY, ClaimOut, StatusEventOut
from provider_data.platform.models import Claim
from provider_data.reads.claims import ClaimView


def claim_out(claim: Claim | ClaimView, amounts: bool) -> ClaimOut:
    money = (
        {
            "billed_amount": claim.billed_amount,
            "allowed_amount": claim.allowed_amount,
            "paid_amount": claim.paid_amount,
            "patient_responsibility": claim.patient_responsibility,
        }
        if amounts
        else {}
    )
    return ClaimOut(
        claim_number=claim.claim_number,
        patient_control_number=claim.patient_control_number,
        member_id=claim.member.member_id,
        billing_tin=claim.billing_tin,
        billing_npi=claim.billing_npi,
        rendering_npi=claim.rendering_npi,
        network=claim.network,
        service_date=claim.service_date,
        received_date=claim.received_date,
        adjudicated_date=claim.adjudicated_date,
        status=claim.status,  # type: ignore[arg-type]
        category_code=CATEGORY[claim.status],
        denial_reason=claim.denial_reason,
        history=[
            StatusEventOut(status=e.status, on=e.on, note=e.note)  # type: ignore[arg-type]
            for e in claim.history
        ],
        **money,
    )
