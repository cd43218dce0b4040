"""The console's actions: each a small function over the admin service, run by
`console.perform` (session, CSRF, authorization, one commit, audit, notice)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from identity import tin_verification
from identity.admin import nominations, profile, service
from identity.deps import SettingsDep, StoreDep
from identity.models import Nomination
from identity.web.console import (
    again_on_org,
    mailer_of,
    many,
    not_found_page,
    one,
    perform,
    send_invitation,
)

router = APIRouter(prefix="/console")


@router.post("/orgs/{org_id}/profile")
async def change_profile(
    org_id: str, request: Request, settings: SettingsDep, store: StoreDep
) -> Response:
    async def action(session: AsyncSession, actor: service.Actor, f: dict[str, Any]) -> str:
        changes = {k: one(f, k) for k in profile.EDITABLE if k in f}
        await profile.update(session, actor, org_id, changes)
        return "profile"

    again = again_on_org(request, settings, store, org_id)
    return await perform(request, settings, store, org_id, action, form="p", again=again)


@router.post("/orgs/{org_id}/tax-ids")
async def add_tin(
    org_id: str, request: Request, settings: SettingsDep, store: StoreDep
) -> Response:
    async def action(session: AsyncSession, actor: service.Actor, f: dict[str, Any]) -> str:
        evidence = tin_verification.Evidence(one(f, "legal_name"), bool(one(f, "attest")))
        await service.add_tin(session, actor, org_id, one(f, "tin"), one(f, "label"), evidence)
        return "tin_pending"

    again = again_on_org(request, settings, store, org_id)
    return await perform(request, settings, store, org_id, action, form="tin", again=again)


@router.post("/orgs/{org_id}/tax-ids/{tin}/remove")
async def remove_tin(
    org_id: str, tin: str, request: Request, settings: SettingsDep, store: StoreDep
) -> Response:
    async def action(session: AsyncSession, actor: service.Actor, f: dict[str, Any]) -> str:
        await service.remove_tin(session, actor, org_id, tin)
        return "tin_removed"

    return await perform(request, settings, store, org_id, action)


@router.post("/orgs/{org_id}/sub-organizations")
async def add_child(
    org_id: str, request: Request, settings: SettingsDep, store: StoreDep
) -> Response:
    async def action(session: AsyncSession, actor: service.Actor, f: dict[str, Any]) -> str:
        await service.create_sub_organization(session, actor, org_id, one(f, "name"))
        return "suborg"

    again = again_on_org(request, settings, store, org_id)
    return await perform(request, settings, store, org_id, action, form="child", again=again)


@router.post("/orgs/{org_id}/nominations")
async def nominate(
    org_id: str, request: Request, settings: SettingsDep, store: StoreDep
) -> Response:
    made: list[tuple[Nomination, str]] = []

    async def action(session: AsyncSession, actor: service.Actor, f: dict[str, Any]) -> str:
        data = {
            "email": one(f, "email"),
            "given_name": one(f, "given_name"),
            "family_name": one(f, "family_name"),
            "role": one(f, "role") or "subscriber",
            "plan_roles": many(f, "plan_roles"),
            "tax_ids": many(f, "tax_ids"),
        }
        throttle = request.app.state.throttle
        made.append(await nominations.nominate(session, actor, org_id, data, settings, throttle))
        return "nominated" if data["plan_roles"] or data["tax_ids"] else "nominated_bare"

    again = again_on_org(request, settings, store, org_id)
    response = await perform(request, settings, store, org_id, action, form="n", again=again)
    for row, token in made if response.status_code == 303 else []:
        await send_invitation(mailer_of(request), settings, store.session, row, token)
    return response


@router.post("/orgs/{org_id}/nominations/{nomination_id}/{verb}")
async def invitation(
    org_id: str,
    nomination_id: str,
    verb: str,
    request: Request,
    settings: SettingsDep,
    store: StoreDep,
) -> Response:
    made: list[tuple[Nomination, str]] = []

    async def action(session: AsyncSession, actor: service.Actor, f: dict[str, Any]) -> str:
        if verb == "resend":
            throttle = request.app.state.throttle
            made.append(await nominations.resend(session, actor, org_id, nomination_id, throttle))
            return "resent"
        await nominations.cancel(session, actor, org_id, nomination_id)
        return "cancelled"

    if verb not in {"resend", "cancel"}:
        return not_found_page(request)
    response = await perform(request, settings, store, org_id, action)
    for row, token in made if response.status_code == 303 else []:
        await send_invitation(mailer_of(request), settings, store.session, row, token)
    return response


@router.post("/orgs/{org_id}/members/{user_id}")
async def change_member(
    org_id: str, user_id: str, request: Request, settings: SettingsDep, store: StoreDep
) -> Response:
    async def action(session: AsyncSession, actor: service.Actor, f: dict[str, Any]) -> str:
        await service.update_member(
            session,
            actor,
            org_id,
            user_id,
            role=one(f, "role") or None,
            plan_roles=many(f, "plan_roles"),
            tax_ids=many(f, "tax_ids"),
        )
        return "member"

    again = again_on_org(request, settings, store, org_id)
    form = f"m-{user_id}"
    return await perform(request, settings, store, org_id, action, form=form, again=again)


@router.post("/orgs/{org_id}/members/{user_id}/{verb}")
async def member_action(
    org_id: str,
    user_id: str,
    verb: str,
    request: Request,
    settings: SettingsDep,
    store: StoreDep,
) -> Response:
    resets: list[service.ResetLink] = []

    async def action(session: AsyncSession, actor: service.Actor, f: dict[str, Any]) -> str:
        if verb in {"suspend", "reactivate"}:
            status = "suspended" if verb == "suspend" else "active"
            await service.set_status(session, actor, org_id, user_id, status)
            return "suspended" if verb == "suspend" else "reactivated"
        if verb == "remove":
            await service.remove_member(session, actor, org_id, user_id)
            return "removed"
        resets.append(await service.request_reset(session, actor, settings, org_id, user_id))
        return "reset"

    if verb not in {"suspend", "reactivate", "remove", "password-reset"}:
        return not_found_page(request)
    response = await perform(request, settings, store, org_id, action)
    for reset in resets if response.status_code == 303 else []:
        await service.send_reset(mailer_of(request), reset)
    return response


@router.post("/orgs/{org_id}/own-plan-roles")
async def own_plan_roles(
    org_id: str, request: Request, settings: SettingsDep, store: StoreDep
) -> Response:
    """An administrator gives herself plan roles (the console's prompt while she has none;
    a plan's portal shows nothing without one). Her role and Tax IDs stay as they are."""

    async def action(session: AsyncSession, actor: service.Actor, f: dict[str, Any]) -> str:
        await service.update_member(
            session,
            actor,
            org_id,
            actor.admin.user.id,
            role=None,
            plan_roles=many(f, "plan_roles"),
            tax_ids=None,
        )
        return "own_plan_roles"

    return await perform(request, settings, store, org_id, action)
