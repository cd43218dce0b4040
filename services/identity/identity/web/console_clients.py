"""The console's page for the organization's integrator clients: create one with the
Tax IDs and the plans (RFC 8707 resources) it may use, rotate its secret, register
its public keys (private_key_jwt), change its TINs or plans, delete it. Same
service (`admin/clients.py`) and authorization as the API. A new secret is held
server-side for the page the form redirects to (`web.console_secrets`), so a
reload shows that page again and makes no second client."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import RedirectResponse, Response

from identity.admin import clients, service
from identity.deps import SettingsDep, StoreDep
from identity.models import Client
from identity.problems import invalid
from identity.security import format_tin
from identity.settings import Settings
from identity.web import console_secrets
from identity.web.console import (
    Again,
    Console,
    Refused,
    Sent,
    admit,
    current_console,
    error_page,
    many,
    not_found_page,
    one,
    page,
    perform,
    to_login,
)
from identity.web.console_forms import FormState, state_of
from policy.problems import Problem

router = APIRouter(prefix="/console")
JWKS_WORDS = 'The public keys must be a JWKS in JSON: {"keys": [...]}.'
NOTICES = {
    "changed": "Saved.",
    "keys": "The public keys are registered; the client now signs its requests (private_key_jwt).",
    "deleted": "The client was deleted and its tokens revoked.",
    "stored": "The secret is no longer shown; TINpass keeps only its digest.",
}


def _jwks(text: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except ValueError as error:
        raise invalid(JWKS_WORDS, field="jwks") from error
    if not isinstance(document, dict):
        raise invalid(JWKS_WORDS, field="jwks")
    return document


@router.get("/orgs/{org_id}/clients")
async def listing(
    org_id: str, request: Request, settings: SettingsDep, store: StoreDep, done: str = ""
) -> Response:
    console = await current_console(request, store, settings)
    if console is None:
        return to_login(request)
    return await clients_page(request, settings, store, console, org_id, NOTICES.get(done))


async def clients_page(
    request: Request,
    settings: Settings,
    store: Any,
    console: Console,
    org_id: str,
    notice: str | None = None,
    state: FormState | None = None,
) -> Response:
    """The clients' page; with `state`, a form sent back with its mistakes (422)."""
    actor = service.Actor(console.admin, None, None)
    try:
        org = await service.organization(store.session, actor, org_id)
        rows = await clients.list_clients(store.session, actor, org_id)
        grantable = await service.subtree_tins(store.session, actor, org_id)
    except Problem:
        return not_found_page(request)
    return page(
        request,
        settings,
        "console_clients.html",
        status_code=422 if state else 200,
        title=("Correct the form: " if state else "") + f"{org.name}: integrator clients",
        org=org,
        clients=[clients.describe(c) for c in rows],
        grantable=sorted(format_tin(t) for t in grantable),
        plans=settings.resources,
        notice=notice,
        state=state,
    )


def again_on_clients(request: Request, settings: Settings, store: Any, org_id: str) -> Again:
    async def show(console: Console, state: FormState) -> Response:
        return await clients_page(request, settings, store, console, org_id, state=state)

    return show


async def _with_secret(
    request: Request,
    settings: Settings,
    store: Any,
    org_id: str,
    make: Any,
) -> Response:
    """Run `make` (returns the client and its new secret), hold the secret for the
    client's secret page and redirect there (303): a reload makes nothing again."""
    sent = await admit(request, settings, store, org_id)
    again = again_on_clients(request, settings, store, org_id)
    if isinstance(sent, Refused):
        return await sent.response(request, "c", again)
    if not isinstance(sent, Sent):
        return sent
    try:
        client, secret = await make(store.session, sent.actor, sent.fields)
    except Problem as problem:
        await store.session.rollback()
        if problem.status == 404:
            return not_found_page(request)
        if problem.status == 422:
            return await again(sent.console, state_of("c", sent.fields, problem))
        return error_page(request, settings, problem.status, problem.detail, org_id)
    user_id = sent.console.user.id
    await console_secrets.hold(store.session, settings, request, user_id, client.client_id, secret)
    await store.session.commit()
    return RedirectResponse(
        f"/console/orgs/{org_id}/clients/{client.client_id}/secret", status_code=303
    )


@router.get("/orgs/{org_id}/clients/{client_id}/secret")
async def secret_page(
    org_id: str, client_id: str, request: Request, settings: SettingsDep, store: StoreDep
) -> Response:
    """The new secret, while it is held for this administrator in this browser."""
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
    held = await console_secrets.held(store.session, settings, request, console.user.id, client_id)
    return page(
        request,
        settings,
        "console_secret.html",
        title=f"{client.name}: its secret" if held and held.secret else client.name,
        org_id=org_id,
        client=clients.describe(client),
        held=held,
        minutes=console_secrets.SECRET_TTL // 60,
    )


@router.post("/orgs/{org_id}/clients/{client_id}/secret/stored")
async def secret_stored(
    org_id: str, client_id: str, request: Request, settings: SettingsDep, store: StoreDep
) -> Response:
    """The administrator has stored the secret: it is not shown any more."""

    async def action(session: AsyncSession, actor: service.Actor, f: dict[str, Any]) -> str:
        await clients.list_clients(session, actor, org_id)  # the one authorization rule
        await console_secrets.forget(session, request, client_id)
        return "stored"

    back = f"/console/orgs/{org_id}/clients"
    return await perform(request, settings, store, org_id, action, back=back)


@router.post("/orgs/{org_id}/clients")
async def create(org_id: str, request: Request, settings: SettingsDep, store: StoreDep) -> Response:
    async def make(
        session: AsyncSession, actor: service.Actor, f: dict[str, Any]
    ) -> tuple[Client, str | None]:
        keys = one(f, "jwks")
        return await clients.create(
            session,
            actor,
            settings,
            org_id,
            one(f, "name"),
            many(f, "tax_ids"),
            _jwks(keys) if keys else None,
            many(f, "resources") or None,
        )

    return await _with_secret(request, settings, store, org_id, make)


@router.post("/orgs/{org_id}/clients/{client_id}/secret")
async def rotate(
    org_id: str, client_id: str, request: Request, settings: SettingsDep, store: StoreDep
) -> Response:
    async def make(
        session: AsyncSession, actor: service.Actor, f: dict[str, Any]
    ) -> tuple[Client, str | None]:
        return await clients.rotate_secret(session, actor, settings, org_id, client_id)

    return await _with_secret(request, settings, store, org_id, make)


@router.post("/orgs/{org_id}/clients/{client_id}/{verb}")
async def change(
    org_id: str,
    client_id: str,
    verb: str,
    request: Request,
    settings: SettingsDep,
    store: StoreDep,
) -> Response:
    async def action(session: AsyncSession, actor: service.Actor, f: dict[str, Any]) -> str:
        if verb == "keys":
            await clients.register_keys(session, actor, org_id, client_id, _jwks(one(f, "jwks")))
            return "keys"
        if verb == "delete":
            await clients.remove(session, actor, org_id, client_id)
            return "deleted"
        if verb == "resources":
            await clients.change(
                session,
                actor,
                org_id,
                client_id,
                name=None,
                tax_ids=None,
                settings=settings,
                resources=many(f, "resources"),
            )
            return "changed"
        await clients.change(
            session, actor, org_id, client_id, name=None, tax_ids=many(f, "tax_ids")
        )
        return "changed"

    if verb not in {"keys", "delete", "tax-ids", "resources"}:
        return not_found_page(request)
    back = f"/console/orgs/{org_id}/clients"
    again = again_on_clients(request, settings, store, org_id)
    form = f"{verb}-{client_id}"
    return await perform(request, settings, store, org_id, action, back, form=form, again=again)
