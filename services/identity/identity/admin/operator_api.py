"""The operators' REST API (`/api/v1/operator/...`): pending registrations and TIN
requests. Only TINpass operators reach it; anyone else gets 404."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from identity.admin import operator
from identity.admin.auth import CurrentOperator
from identity.deps import MailerDep, SessionDep, SettingsDep
from identity.mail import Mailer, quoted
from identity.models import Organization
from identity.settings import Settings
from identity.web.protocol import request_id, source_address

router = APIRouter(prefix="/api/v1/operator", tags=["operators"])


class Reason(BaseModel):
    reason: str = Field(default="", max_length=2000)


def _decision(request: Request, user: Any) -> operator.Decision:
    return operator.Decision(user, request_id(request), source_address(request))


async def tell_administrators(
    mailer: Mailer, settings: Settings, admins: list[Any], org: Organization
) -> None:
    named = f"The organization's name, as it was registered: {quoted(org.name)}\n\n"
    if org.status == "active":
        for admin in admins:
            await mailer.send(
                admin.email,
                "Your organization is verified on TINpass",
                f"TINpass verified your organization.\n{named}"
                "You can now sign in, add your people and Tax IDs, and reach health plans' "
                f"portals:\n{settings.issuer.rstrip('/')}/console\n",
            )
        return
    for admin in admins:
        await mailer.send(
            admin.email,
            "Your TINpass registration was not accepted",
            f"TINpass could not verify your organization.\n{named}"
            f"Reason: {org.decision_reason}\n\n"
            "Reply to this message or register again with corrected details.\n",
        )


@router.get("/registrations")
async def registrations(operator_user: CurrentOperator, session: SessionDep) -> Any:
    return {"registrations": await operator.pending_registrations(session)}


async def _decide(
    request: Request,
    operator_user: Any,
    session: SessionDep,
    settings: Settings,
    mailer: Mailer,
    org_id: str,
    verified: bool,
    reason: str,
) -> dict[str, Any]:
    org = await operator.decide_registration(
        session, _decision(request, operator_user), org_id, verified, reason
    )
    admins = await operator.administrators(session, org.id)
    await session.commit()
    await tell_administrators(mailer, settings, admins, org)
    return {"id": org.id, "status": org.status, "reason": org.decision_reason}


@router.post("/registrations/{org_id}/verify")
async def verify(
    org_id: str,
    request: Request,
    operator_user: CurrentOperator,
    session: SessionDep,
    settings: SettingsDep,
    mailer: MailerDep,
) -> Any:
    return await _decide(request, operator_user, session, settings, mailer, org_id, True, "")


@router.post("/registrations/{org_id}/reject")
async def reject(
    org_id: str,
    body: Reason,
    request: Request,
    operator_user: CurrentOperator,
    session: SessionDep,
    settings: SettingsDep,
    mailer: MailerDep,
) -> Any:
    return await _decide(
        request, operator_user, session, settings, mailer, org_id, False, body.reason
    )


@router.get("/tax-id-requests")
async def tax_id_requests(operator_user: CurrentOperator, session: SessionDep) -> Any:
    return {"requests": await operator.tin_requests(session)}


@router.post("/tax-id-requests/{request_id_}/approve")
async def approve_tin(
    request_id_: str, request: Request, operator_user: CurrentOperator, session: SessionDep
) -> Any:
    row = await operator.decide_tin(
        session, _decision(request, operator_user), request_id_, True, ""
    )
    await session.commit()
    return {"id": row.id, "status": "active"}


@router.post("/tax-id-requests/{request_id_}/reject")
async def reject_tin(
    request_id_: str,
    body: Reason,
    request: Request,
    operator_user: CurrentOperator,
    session: SessionDep,
) -> Any:
    await operator.decide_tin(
        session, _decision(request, operator_user), request_id_, False, body.reason
    )
    await session.commit()
    return {"id": request_id_, "status": "rejected"}
