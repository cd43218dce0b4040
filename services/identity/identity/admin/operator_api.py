"""The operators' REST API (`/api/v1/operator/...`): pending registrations, TINs
waiting for verification (with their evidence), and revocation of verified TINs.
Only TINpass operators reach it; anyone else gets 404."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from identity import tin_verification as tins
from identity.admin import operator
from identity.admin.auth import CurrentOperator
from identity.deps import MailerDep, SessionDep, SettingsDep, request_id, source_address
from identity.mail import Mailer
from identity.models import Organization, TaxId
from identity.problems import invalid
from identity.security import normalize_tin
from identity.settings import Settings
from policy.inputs import Input, Text

router = APIRouter(prefix="/api/v1/operator", tags=["operators"])


class Reason(Input):
    reason: Annotated[str, Text(2000, multiline=True)] = ""
    multiline_fields = frozenset({"reason"})


def _decision(request: Request, user: Any) -> operator.Decision:
    return operator.Decision(user, request_id(request), source_address(request))


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
    await operator.tell_administrators(mailer, settings, admins, org)
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
    """TINs waiting for verification, each with its evidence: the legal name as registered
    with the IRS, the attested statement, who attested and when, and which other
    organizations hold (or ask for) the same TIN."""
    return {"requests": await tins.pending(session)}


async def _tin_decision(
    request: Request,
    operator_user: Any,
    session: SessionDep,
    mailer: Mailer,
    decide: Callable[[operator.Decision], Awaitable[TaxId]],
) -> dict[str, Any]:
    row = await decide(_decision(request, operator_user))
    org = await session.get(Organization, row.organization_id)
    admins = await operator.administrators(session, row.organization_id)
    shown = await tins.describe(session, row)
    await session.commit()
    await tins.notify(mailer, admins, row, org.name if org else "")
    return shown


@router.post("/tax-id-requests/{tax_id_id}/approve")
async def approve_tin(
    tax_id_id: str,
    request: Request,
    operator_user: CurrentOperator,
    session: SessionDep,
    mailer: MailerDep,
    body: Reason | None = None,
) -> Any:
    """Verify the TIN: the organization owns it; it can be granted from now on."""
    reason = body.reason if body else ""
    return await _tin_decision(
        request,
        operator_user,
        session,
        mailer,
        lambda by: operator.decide_tin(session, by, tax_id_id, True, reason),
    )


@router.post("/tax-id-requests/{tax_id_id}/reject")
async def reject_tin(
    tax_id_id: str,
    request: Request,
    operator_user: CurrentOperator,
    session: SessionDep,
    mailer: MailerDep,
    body: Reason | None = None,
) -> Any:
    """Reject the TIN with a reason (required), which the organization reads."""
    reason = body.reason if body else ""
    return await _tin_decision(
        request,
        operator_user,
        session,
        mailer,
        lambda by: operator.decide_tin(session, by, tax_id_id, False, reason),
    )


@router.get("/tax-ids")
async def find_tax_id(
    operator_user: CurrentOperator,
    session: SessionDep,
    tin: Annotated[str, Query(max_length=20, examples=["12-3456789"])],
) -> Any:
    """Every organization's record of one TIN, whatever its status."""
    try:
        digits = normalize_tin(tin)
    except ValueError as error:
        raise invalid(str(error), field="tin") from error
    return {"tax_ids": await tins.search(session, digits)}


@router.post("/tax-ids/{tax_id_id}/revoke")
async def revoke_tin(
    tax_id_id: str,
    request: Request,
    operator_user: CurrentOperator,
    session: SessionDep,
    mailer: MailerDep,
    body: Reason | None = None,
) -> Any:
    """Revoke a verified TIN with a reason (required): its grants end and the next
    tokens no longer carry it."""
    reason = body.reason if body else ""
    return await _tin_decision(
        request,
        operator_user,
        session,
        mailer,
        lambda by: operator.revoke_tin(session, by, tax_id_id, reason),
    )
