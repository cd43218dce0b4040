"""The admin API's integrator clients (`/api/v1/organizations/{org_id}/clients`): the
routes over `identity.admin.clients`. Authorization is `CurrentAdministrator` +
`Administrator.organization`, as in `identity.admin.api`; every change commits once,
with its audit event; a body carrying a secret is never cached."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import Field
from starlette.responses import Response

from identity.admin.auth import CurrentAdministrator
from identity.admin.clients import (
    change,
    create,
    describe,
    list_clients,
    owned,
    register_keys,
    remove,
    rotate_secret,
)
from identity.admin.idempotency import Idempotency
from identity.admin.service import Actor
from identity.deps import SessionDep, SettingsDep, request_id, source_address
from identity.models import Client
from policy.inputs import Input, Text, column_length

router = APIRouter(prefix="/api/v1/organizations/{org_id}", tags=["integrator clients"])

RESOURCE_TEXT = Text(2048)  # a plan API's URI (RFC 8707)


class ClientIn(Input):
    name: Annotated[str, Text(column_length(Client.name), min_length=1)] = Field(
        examples=["Nightly eligibility batch"]
    )
    tax_ids: list[Annotated[str, Text(20)]] = Field(default=[], examples=[["12-3456789"]])
    jwks: dict[str, Any] | None = None
    resources: list[Annotated[str, RESOURCE_TEXT]] | None = Field(
        default=None,
        description="The plans' APIs (RFC 8707 resources) it may use, its default first; "
        "by default the first plan TINpass knows.",
        examples=[["https://api.cascade.plans.example"]],
    )


class ClientChange(Input):
    name: Annotated[str, Text(column_length(Client.name), min_length=1)] | None = None
    tax_ids: list[Annotated[str, Text(20)]] | None = None
    resources: list[Annotated[str, RESOURCE_TEXT]] | None = None


class Jwks(Input):
    keys: list[Any]


def _actor(request: Request, admin: CurrentAdministrator) -> Actor:
    return Actor(admin, request_id(request), source_address(request))


def _once(response: Response, body: dict[str, Any]) -> dict[str, Any]:
    """A body carrying a secret: no cache may keep it (as for token responses)."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return body


@router.get("/clients")
async def get_clients(
    org_id: str, request: Request, admin: CurrentAdministrator, session: SessionDep
) -> Any:
    rows = await list_clients(session, _actor(request, admin), org_id)
    return {"clients": [describe(c) for c in rows]}


@router.post("/clients", status_code=201)
async def post_client(
    org_id: str,
    body: ClientIn,
    request: Request,
    admin: CurrentAdministrator,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
    idempotent: Idempotency,
) -> Any:
    actor = _actor(request, admin)
    client, secret = await create(
        session, actor, settings, org_id, body.name, body.tax_ids, body.jwks, body.resources
    )
    shown = describe(client)
    body_out = shown if secret is None else _once(response, {**shown, "client_secret": secret})
    return await idempotent.commit(body_out)


@router.get("/clients/{client_id}")
async def get_client(
    org_id: str, client_id: str, request: Request, admin: CurrentAdministrator, session: SessionDep
) -> Any:
    return describe(await owned(session, _actor(request, admin), org_id, client_id))


@router.patch("/clients/{client_id}")
async def patch_client(
    org_id: str,
    client_id: str,
    body: ClientChange,
    request: Request,
    admin: CurrentAdministrator,
    session: SessionDep,
    settings: SettingsDep,
) -> Any:
    actor = _actor(request, admin)
    client = await change(
        session,
        actor,
        org_id,
        client_id,
        name=body.name,
        tax_ids=body.tax_ids,
        settings=settings,
        resources=body.resources,
    )
    await session.commit()
    return describe(client)


@router.post("/clients/{client_id}/secret")
async def post_secret(
    org_id: str,
    client_id: str,
    request: Request,
    admin: CurrentAdministrator,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
    idempotent: Idempotency,
) -> Any:
    actor = _actor(request, admin)
    client, secret = await rotate_secret(session, actor, settings, org_id, client_id)
    return await idempotent.commit(_once(response, {**describe(client), "client_secret": secret}))


@router.put("/clients/{client_id}/jwks")
async def put_jwks(
    org_id: str,
    client_id: str,
    body: Jwks,
    request: Request,
    admin: CurrentAdministrator,
    session: SessionDep,
) -> Any:
    actor = _actor(request, admin)
    client = await register_keys(session, actor, org_id, client_id, body.model_dump())
    await session.commit()
    return describe(client)


@router.delete("/clients/{client_id}", status_code=204)
async def delete_client(
    org_id: str, client_id: str, request: Request, admin: CurrentAdministrator, session: SessionDep
) -> Response:
    await remove(session, _actor(request, admin), org_id, client_id)
    await session.commit()
    return Response(status_code=204)
