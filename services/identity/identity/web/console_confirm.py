"""The confirmation step of the console's destructive actions: removing a Tax ID,
suspending or removing a person, deleting an integrator client. The button on the
organization's page only asks (a GET form, which changes nothing); this page says
what will happen and sends the change itself, with a danger-styled button and a
way back that keeps everything as it is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from identity.admin import clients, service
from identity.deps import SettingsDep, StoreDep
from identity.security import format_tin
from identity.settings import Settings
from identity.web.console import current_console, not_found_page, page, to_login
from policy.problems import Problem

router = APIRouter(prefix="/console")


@dataclass(frozen=True)
class Question:
    title: str
    consequence: str
    action: str
    button: str
    back: str


def confirm_page(request: Request, settings: Settings, question: Question) -> Response:
    return page(request, settings, "console_confirm.html", title=question.title, q=question)


@router.get("/orgs/{org_id}/tax-ids/{tin}/remove")
async def remove_tin(
    org_id: str, tin: str, request: Request, settings: SettingsDep, store: StoreDep
) -> Response:
    console = await current_console(request, store, settings)
    if console is None:
        return to_login(request)
    actor = service.Actor(console.admin, None, None)
    try:
        org = await service.organization(store.session, actor, org_id)
    except Problem:
        return not_found_page(request)
    if tin not in {t.tin for t in org.tax_ids}:
        return not_found_page(request)
    shown = format_tin(tin)
    return confirm_page(
        request,
        settings,
        Question(
            f"Remove Tax ID {shown} from {org.name}?",
            f"Nobody in {org.name} will act for Tax ID {shown} any more: people and "
            "integrator clients lose it at their next sign-in or token. To use it again, "
            "it must be asked for and verified by TINpass again.",
            f"/console/orgs/{org_id}/tax-ids/{tin}/remove",
            f"Remove Tax ID {shown}",
            f"/console/orgs/{org_id}",
        ),
    )


MEMBER_QUESTIONS = {
    "suspend": (
        "Suspend {who}?",
        "{who} can no longer sign in, and every session they have now ends. Their access "
        "is kept, and an administrator can reactivate the account later.",
        "Suspend {who}",
    ),
    "remove": (
        "Remove {who} from {org}?",
        "{who} loses their role, plan roles and Tax IDs in {org}, and their sessions end. "
        "An account that belongs to no other organization is closed. To undo this, "
        "invite them again.",
        "Remove {who}",
    ),
}


@router.get("/orgs/{org_id}/members/{user_id}/suspend")
async def suspend_member(
    org_id: str, user_id: str, request: Request, settings: SettingsDep, store: StoreDep
) -> Response:
    return await _member_question(org_id, user_id, "suspend", request, settings, store)


@router.get("/orgs/{org_id}/members/{user_id}/remove")
async def remove_member(
    org_id: str, user_id: str, request: Request, settings: SettingsDep, store: StoreDep
) -> Response:
    return await _member_question(org_id, user_id, "remove", request, settings, store)


async def _member_question(
    org_id: str, user_id: str, verb: str, request: Request, settings: Settings, store: Any
) -> Response:
    console = await current_console(request, store, settings)
    if console is None:
        return to_login(request)
    session = store.session
    actor = service.Actor(console.admin, None, None)
    try:
        org = await service.organization(session, actor, org_id)
        member = await service.membership(session, actor, org_id, user_id)
    except Problem:
        return not_found_page(request)
    if verb == "suspend" and member.user.status != "active":
        return not_found_page(request)
    user = member.user
    who = " ".join(p for p in (user.given_name, user.family_name) if p) or user.username
    who = f"{who} ({user.username})" if who != user.username else who
    title, consequence, button = MEMBER_QUESTIONS[verb]
    return confirm_page(
        request,
        settings,
        Question(
            title.format(who=who, org=org.name),
            consequence.format(who=who, org=org.name),
            f"/console/orgs/{org_id}/members/{user_id}/{verb}",
            button.format(who=user.username),
            f"/console/orgs/{org_id}",
        ),
    )


@router.get("/orgs/{org_id}/clients/{client_id}/delete")
async def delete_client(
    org_id: str, client_id: str, request: Request, settings: SettingsDep, store: StoreDep
) -> Response:
    console = await current_console(request, store, settings)
    if console is None:
        return to_login(request)
    actor = service.Actor(console.admin, None, None)
    try:
        rows = await clients.list_clients(store.session, actor, org_id)
    except Problem:
        return not_found_page(request)
    client = next((c for c in rows if c.client_id == client_id), None)
    if client is None:
        return not_found_page(request)
    return confirm_page(
        request,
        settings,
        Question(
            f"Delete the integrator client {client.name}?",
            f"The system that uses {client.name} can no longer get tokens, and the "
            "tokens it holds stop working. This cannot be undone.",
            f"/console/orgs/{org_id}/clients/{client_id}/delete",
            f"Delete {client.name}",
            f"/console/orgs/{org_id}/clients",
        ),
    )
