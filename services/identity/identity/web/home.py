"""TINpass's front page (GET /): where to go, for a visitor and for a signed-in person.

A visitor is offered signing in, registering an organization and getting back into an
account; a signed-in person sees their organizations (and whether each is still being
verified), their account and, for administrators and operators, administration.
Reading the page changes nothing beyond the session's last-seen time, as every page of
a signed-in person does.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from identity import accounts
from identity.deps import SettingsDep, StoreDep
from identity.security import format_tin
from identity.web.account import _account
from identity.web.pages import render

router = APIRouter()


@router.get("/")
async def home(request: Request, settings: SettingsDep, store: StoreDep) -> Response:
    account = await _account(request, store, settings)
    if account is None:
        await store.session.commit()
        return render(request, "home.html", title="Welcome", user=None)
    memberships = await accounts.memberships_of(store.session, account.user.id)
    await store.session.commit()
    return render(
        request,
        "home.html",
        title="Welcome",
        user=account.user,
        memberships=[
            {
                "name": m.organization.name,
                "status": m.organization.status,
                "role": m.role,
                "tax_ids": [format_tin(t.tin) for t in sorted(m.tax_ids, key=lambda t: t.tin)],
            }
            for m in memberships
        ],
        administers=any(m.role == "administrator" for m in memberships),
    )
