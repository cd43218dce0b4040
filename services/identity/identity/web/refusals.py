"""Why a signed-in person may not go on to a relying party, in plain words.

A person whose organizations are all still being verified, were not accepted or are
suspended gets no code (docs/architecture.md, "Organization context"). Rather than
sending them back to the plan's portal with `access_denied`, which the portal can only
call a failed sign-in, TINpass says here what is happening and what to do.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from identity import accounts
from identity.models import Membership
from identity.web.pages import render

PENDING = "organization_pending_verification"
REJECTED = "organization_rejected"
INACTIVE = "organization_inactive"


@dataclass(frozen=True)
class Refusal:
    reason: str
    memberships: list[Membership]

    @property
    def administers(self) -> bool:
        return any(m.role == "administrator" for m in self.memberships)


async def why(session: AsyncSession, user_id: str, organization_id: str | None) -> Refusal | None:
    """The refusal to explain when every organization the request covers is not active;
    None when something else stopped it (the account itself), which the login handles."""
    memberships = [
        m
        for m in await accounts.memberships_of(session, user_id)
        if not organization_id or m.organization_id == organization_id
    ]
    if not memberships or any(m.organization.status == "active" for m in memberships):
        return None
    statuses = {m.organization.status for m in memberships}
    if "pending_verification" in statuses:
        reason = PENDING
    elif statuses == {"rejected"}:
        reason = REJECTED
    else:
        reason = INACTIVE
    return Refusal(reason, memberships)


def page(request: Request, refusal: Refusal, client_name: str | None) -> Response:
    titles = {
        PENDING: "Your organization is waiting for verification",
        REJECTED: "Your organization's registration was not accepted",
        INACTIVE: "Your organization cannot use health plans right now",
    }
    return render(
        request,
        "refused.html",
        status_code=403,
        title=titles[refusal.reason],
        refusal=refusal,
        client_name=client_name or "this health plan",
    )
