"""A plan's eligibility and claims services accept only tokens for that plan's APIs
(RFC 8707): a token minted for Summit Health Plan is refused at Cascade's."""

from __future__ import annotations

from tests.provider_data.conftest import Plan
from tests.support.tokens import SUMMIT_AUDIENCE

INQUIRY = {"member_id": "M1000101", "date_of_birth": "1985-04-12"}


async def test_a_token_for_another_plan_is_refused(plan: Plan) -> None:
    headers = plan.auth(aud=SUMMIT_AUDIENCE)
    for response in (
        await plan.claims.get("/claims/v1/claims", headers=headers),
        await plan.eligibility.post("/eligibility/v1/inquiries", json=INQUIRY, headers=headers),
    ):
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert 'error="invalid_token"' in response.headers["www-authenticate"]
    own = await plan.eligibility.post(
        "/eligibility/v1/inquiries", json=INQUIRY, headers=plan.auth()
    )
    assert own.status_code == 200, own.text
