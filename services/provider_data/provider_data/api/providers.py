"""Which of this plan's provider records the caller's Tax IDs match (no patient data).

A portal shows the signed-in person which of their TINs the plan knows; the answer
is the same decision every other route makes first, so a caller whose TINs match
no provider record in effect today gets the same 403 problem.
"""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from pydantic import BaseModel

from provider_data.api.deps import CurrentPrincipal, SessionDep
from provider_data.domain import access

router = APIRouter(prefix="/eligibility/v1", tags=["eligibility"])


class MatchedProvider(BaseModel):
    npi: str
    tin: str
    name: str
    network_status: str


class MatchedProviders(BaseModel):
    providers: list[MatchedProvider]
    matched_tax_ids: list[str]


@router.get(
    "/providers",
    response_model=MatchedProviders,
    summary="The plan's provider records your Tax IDs match",
)
async def matched_providers(
    request: Request, principal: CurrentPrincipal, session: SessionDep
) -> MatchedProviders:
    """Provider records in effect today whose TIN is among the token's; 403 when none."""
    decision, records = await access.authorize_plan(
        session, request, principal, "eligibility.read", date.today()
    )
    return MatchedProviders(
        providers=[
            MatchedProvider(npi=r.npi, tin=r.tin, name=r.name, network_status=r.network_status)
            for r in records
        ],
        matched_tax_ids=sorted(decision.matched_tax_ids),
    )
