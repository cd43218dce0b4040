"""The console's page for the organization's integrator clients: create one with the
Tax IDs and the plans (RFC 8707 resources) it may use, rotate its secret, register
its public keys (private_key_jwt), change its TINs or plans, delete it. Same
service (`admin/clients.py`) and authorization as the API; a new secret is shown
once, on the page that made it."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from identity.admin import clients, service
from identity.deps import SettingsDep, StoreDep, request_id, source_address
from identity.models import Client
from identity.problems import invalid
from identity.security import format_tin
from identity.settings import Settings
from identity.web import csrf
from identity.web.console import (
    EXPIRED_FORM,
    current_console,
    error_page,
    many,
    not_found_page,
    one,
    page,
    perform,
    to_login,
)
from identity.web.forms import checked
from policy.problems import Problem

router = APIRouter(prefix="/console")


def _jwks(text: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except ValueError as error:
        raise invalid('The public keys must be a JWKS in JSON: {"keys": [...]}.') from error
    if not isinstance(document, dict):
        raise invalid('The public keys must be a JWKS in JSON: {"keys": [...]}.')
    return document


@router.get("/orgs/{org_id}/clients")
async def listing(
    org_id: str, request: Request, settings: SettingsDep, store: StoreDep, done: str = ""
) -> Response:
    console = await current_console(request, store, settings)
    if console is None:
        return to_login()
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
        title=f"{org.name}: integrator clients",
        org=org,
        clients=[clients.describe(c) for c in rows],
        grantable=sorted(format_tin(t) for t in grantable),
        plans=settings.resources,
        notice={
            "changed": "Saved.",
            "keys": "The public keys are registered; the client "
            "now signs its requests (private_key_jwt).",
            "deleted": "The client was deleted and its tokens revoked.",
        }.get(done),
    )


async def _with_secret(
    request: Request,
    settings: Settings,
    store: Any,
    org_id: str,
    make: Any,
) -> Response:
    """Run `make` (returns the client and its new secret) and show the secret once."""
    console = await current_console(request, store, settings)
    if console is None:
        return to_login()
    form = checked(await request.form())
    fields: dict[str, Any] = {k: form.getlist(k) for k in form}
    if not csrf.valid(request, settings.secret_key, one(fields, "csrf_token")):
        return error_page(request, settings, 400, EXPIRED_FORM, org_id)
    actor = service.Actor(console.admin, request_id(request), source_address(request))
    try:
        client, secret = await make(store.session, actor, fields)
    except Problem as problem:
        await store.session.rollback()
        if problem.status == 404:
            return not_found_page(request)
        return error_page(request, settings, problem.status, problem.detail, org_id)
    await store.session.commit()
    response = page(
        request,
        settings,
        "console_secret.html",
        title="The client's secret",
        org_id=org_id,
        client=clients.describe(client),
        secret=secret,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


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
    return await perform(
        request, settings, store, org_id, action, back=f"/console/orgs/{org_id}/clients"
    )
