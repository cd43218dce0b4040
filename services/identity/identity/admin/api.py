"""The admin REST API (`/api/v1/organizations/...`) and the nominee's acceptance pages.

Every route takes the `CurrentAdministrator` and passes the organization id
through `Administrator.organization`, the one authorization rule; each change
commits once with its audit event. Errors are RFC 9457 problems.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import Field
from starlette.responses import Response

from identity import tin_verification as tins
from identity.admin import nominations, profile, review, service
from identity.admin.auth import CurrentAdministrator
from identity.admin.idempotency import Idempotency
from identity.deps import (
    MailerDep,
    SessionDep,
    SettingsDep,
    ThrottleDep,
    request_id,
    source_address,
)
from identity.models import Membership, Nomination, Organization, TaxId
from identity.security import format_tin
from policy.inputs import Input, Text, column_length

router = APIRouter(prefix="/api/v1/organizations/{org_id}", tags=["administration"])
PLAN_ROLE_LENGTH = 64
NPI_LENGTH = 20  # an NPI as people write it; checked as ten digits after


TIN_TEXT = Text(20)  # a TIN as people write it ("12-3456789"); checked as digits after


class TinIn(Input):
    """A TIN and the evidence that the organization owns it (see `GET .../tax-ids`
    for the statement attested)."""

    tin: Annotated[str, TIN_TEXT] = Field(examples=["12-3456789"])
    label: Annotated[str, Text(column_length(TaxId.label))] = ""
    legal_name: Annotated[str, Text(column_length(TaxId.legal_name))] = Field(
        default="",
        description="The organization's legal name exactly as registered with the IRS "
        "for this TIN.",
        examples=["Evergreen Family Clinic PLLC"],
    )
    attest: bool = Field(
        default=False,
        description="The caller attests that the organization owns the TIN and that they "
        "may act for it (the statement is stored with who attested and when).",
    )


class SubOrganizationIn(Input):
    name: Annotated[str, Text(column_length(Organization.name), min_length=1)]


class MemberChange(Input):
    role: Annotated[str, Text(column_length(Membership.role))] | None = None
    plan_roles: list[Annotated[str, Text(PLAN_ROLE_LENGTH)]] | None = None
    tax_ids: list[Annotated[str, TIN_TEXT]] | None = None


class NominationIn(Input):
    email: Annotated[str, Text(column_length(Nomination.email))]
    given_name: Annotated[str, Text(column_length(Nomination.given_name))] = ""
    family_name: Annotated[str, Text(column_length(Nomination.family_name))] = ""
    role: Annotated[str, Text(column_length(Nomination.role))] = "subscriber"
    plan_roles: list[Annotated[str, Text(PLAN_ROLE_LENGTH)]] = []
    tax_ids: list[Annotated[str, TIN_TEXT]] = []


def _actor(request: Request, admin: CurrentAdministrator) -> service.Actor:
    return service.Actor(admin, request_id(request), source_address(request))


def _org(org: Organization) -> dict[str, Any]:
    return {
        "id": org.id,
        "name": org.name,
        "parent_id": org.parent_id,
        "status": org.status,
        "tax_ids": sorted(format_tin(t.tin) for t in org.tax_ids if t.status == tins.ACTIVE),
        "tax_ids_pending_verification": sorted(
            format_tin(t.tin) for t in org.tax_ids if t.status == tins.PENDING
        ),
        "address": {
            "street": org.street,
            "city": org.city,
            "state": org.state,
            "postal_code": org.postal_code,
        },
        "phone": org.phone,
        "npis": list(org.npis),
    }


@router.get("")
async def get_organization(
    org_id: str, request: Request, admin: CurrentAdministrator, session: SessionDep
) -> Any:
    return _org(await service.organization(session, _actor(request, admin), org_id))


class ProfileChange(Input):
    name: Annotated[str, Text(column_length(Organization.name))] | None = None
    street: Annotated[str, Text(column_length(Organization.street))] | None = None
    city: Annotated[str, Text(column_length(Organization.city))] | None = None
    # State and ZIP are checked against their formats after trimming and upper-casing.
    state: Annotated[str, Text(40)] | None = None
    postal_code: Annotated[str, Text(40)] | None = None
    phone: Annotated[str, Text(column_length(Organization.phone))] | None = None
    npis: list[Annotated[str, Text(NPI_LENGTH)]] | None = None


@router.patch("")
async def change_profile(
    org_id: str,
    body: ProfileChange,
    request: Request,
    admin: CurrentAdministrator,
    session: SessionDep,
) -> Any:
    """Edit the organization's profile; only the fields sent change."""
    org = await profile.update(
        session, _actor(request, admin), org_id, body.model_dump(exclude_unset=True)
    )
    await session.commit()
    return _org(org)


def _tin(row: TaxId) -> dict[str, Any]:
    return {
        "tin": format_tin(row.tin),
        "label": row.label,
        "status": row.status,
        "legal_name": row.legal_name,
        "attested_at": row.attested_at.isoformat() if row.attested_at else None,
        "decided_at": row.decided_at.isoformat() if row.decided_at else None,
        "reason": row.revocation_reason or row.decision_reason,
    }


@router.get("/tax-ids")
async def list_tax_ids(
    org_id: str, request: Request, admin: CurrentAdministrator, session: SessionDep
) -> Any:
    """The organization's TINs with their status: `pending_verification` (granted to
    nobody yet), `active` (verified), `rejected` or `revoked` (with the reason)."""
    org = await service.organization(session, _actor(request, admin), org_id)
    return {
        "tax_ids": [_tin(t) for t in sorted(org.tax_ids, key=lambda t: t.tin)],
        "statement": tins.STATEMENT,
    }


@router.post("/tax-ids", status_code=202)
async def add_tax_id(
    org_id: str,
    body: TinIn,
    request: Request,
    admin: CurrentAdministrator,
    session: SessionDep,
    idempotent: Idempotency,
) -> Any:
    """202: the TIN waits for a TINpass operator to verify the evidence; it can be granted
    once verified. 409 when the organization already has it (verified or waiting)."""
    evidence = tins.Evidence(body.legal_name, body.attest)
    row = await service.add_tin(
        session, _actor(request, admin), org_id, body.tin, body.label, evidence
    )
    return await idempotent.commit(
        _tin(row)
        | {
            "detail": "TINpass operators will verify that your organization owns this Tax ID; "
            "it can be granted to people and clients once verified."
        }
    )


@router.delete("/tax-ids/{tin}", status_code=204)
async def remove_tax_id(
    org_id: str, tin: str, request: Request, admin: CurrentAdministrator, session: SessionDep
) -> Response:
    await service.remove_tin(session, _actor(request, admin), org_id, tin)
    await session.commit()
    return Response(status_code=204)


@router.post("/sub-organizations", status_code=201)
async def create_sub_organization(
    org_id: str,
    body: SubOrganizationIn,
    request: Request,
    admin: CurrentAdministrator,
    session: SessionDep,
    idempotent: Idempotency,
) -> Any:
    child = await service.create_sub_organization(
        session, _actor(request, admin), org_id, body.name
    )
    return await idempotent.commit(
        {"id": child.id, "name": child.name, "parent_id": child.parent_id}
    )


@router.get("/members")
async def list_members(
    org_id: str, request: Request, admin: CurrentAdministrator, session: SessionDep
) -> Any:
    return {"members": await review.rows(session, _actor(request, admin), org_id)}


@router.patch("/members/{user_id}")
async def change_member(
    org_id: str,
    user_id: str,
    body: MemberChange,
    request: Request,
    admin: CurrentAdministrator,
    session: SessionDep,
) -> Any:
    row = await service.update_member(
        session,
        _actor(request, admin),
        org_id,
        user_id,
        role=body.role,
        plan_roles=body.plan_roles,
        tax_ids=body.tax_ids,
    )
    await session.commit()
    return service.describe(row)


@router.delete("/members/{user_id}", status_code=204)
async def remove_member(
    org_id: str, user_id: str, request: Request, admin: CurrentAdministrator, session: SessionDep
) -> Response:
    await service.remove_member(session, _actor(request, admin), org_id, user_id)
    await session.commit()
    return Response(status_code=204)


@router.post("/members/{user_id}/suspend")
async def suspend(
    org_id: str, user_id: str, request: Request, admin: CurrentAdministrator, session: SessionDep
) -> Any:
    user = await service.set_status(session, _actor(request, admin), org_id, user_id, "suspended")
    await session.commit()
    return {"status": user.status}


@router.post("/members/{user_id}/reactivate")
async def reactivate(
    org_id: str, user_id: str, request: Request, admin: CurrentAdministrator, session: SessionDep
) -> Any:
    user = await service.set_status(session, _actor(request, admin), org_id, user_id, "active")
    await session.commit()
    return {"status": user.status}


@router.post("/members/{user_id}/password-reset", status_code=202)
async def reset_password(
    org_id: str,
    user_id: str,
    request: Request,
    admin: CurrentAdministrator,
    session: SessionDep,
    settings: SettingsDep,
    mailer: MailerDep,
    idempotent: Idempotency,
) -> Any:
    """Sends the member a reset link; no administrator sees or sets a password."""
    reset = await service.request_reset(session, _actor(request, admin), settings, org_id, user_id)
    answer = await idempotent.commit({"status": "sent"})
    await service.send_reset(mailer, reset)
    return answer


@router.post("/nominations", status_code=201, responses=nominations.TOO_MANY)
async def nominate(
    org_id: str,
    body: NominationIn,
    request: Request,
    admin: CurrentAdministrator,
    session: SessionDep,
    settings: SettingsDep,
    mailer: MailerDep,
    throttle: ThrottleDep,
    idempotent: Idempotency,
) -> Any:
    actor = _actor(request, admin)
    data = body.model_dump()
    row, token = await nominations.nominate(session, actor, org_id, data, settings, throttle)
    org = await service.organization(session, actor, org_id)
    answer = await idempotent.commit(
        {"id": row.id, "email": row.email, "expires_at": row.expires_at.isoformat()}
    )
    await nominations.send(mailer, settings, row, org.name, token)
    return answer


@router.post("/nominations/{nomination_id}/resend", responses=nominations.TOO_MANY)
async def resend_nomination(
    org_id: str,
    nomination_id: str,
    request: Request,
    admin: CurrentAdministrator,
    session: SessionDep,
    settings: SettingsDep,
    mailer: MailerDep,
    throttle: ThrottleDep,
    idempotent: Idempotency,
) -> Any:
    actor = _actor(request, admin)
    row, token = await nominations.resend(session, actor, org_id, nomination_id, throttle)
    org = await service.organization(session, actor, org_id)
    answer = await idempotent.commit({"id": row.id, "expires_at": row.expires_at.isoformat()})
    await nominations.send(mailer, settings, row, org.name, token)
    return answer


@router.delete("/nominations/{nomination_id}", status_code=204)
async def cancel_nomination(
    org_id: str,
    nomination_id: str,
    request: Request,
    admin: CurrentAdministrator,
    session: SessionDep,
) -> Response:
    await nominations.cancel(session, _actor(request, admin), org_id, nomination_id)
    await session.commit()
    return Response(status_code=204)


@router.get("/access-review")
async def access_review(
    org_id: str,
    request: Request,
    admin: CurrentAdministrator,
    session: SessionDep,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
) -> Response:
    entries = await review.rows(session, _actor(request, admin), org_id)
    if format == "csv":
        return Response(
            review.as_csv(entries),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="access-review.csv"'},
        )
    return JSONResponse({"members": entries})
