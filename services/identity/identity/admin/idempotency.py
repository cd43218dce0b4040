"""`Idempotency-Key` on the admin API's creating endpoints (`policy.idempotency` says
the rules; the claims API follows the same ones).

A creating route takes `Idempotent` and ends with `return await idempotent.commit(body)`
instead of committing itself. Without the header nothing changes. With it, before the
route runs: the key is held for the transaction (a second request with it meanwhile is
a 409 problem); an answer already kept under it is replayed (same status and body,
`Idempotency-Replayed: true`), or refused with a 422 problem when the request differs
(method and path, or JSON body); otherwise the route runs and `commit` keeps its
answer in the same transaction as the change and its audit event. A refusal (a
problem) changes nothing and is not kept: a retry is decided afresh.
Keys are per caller and organization, kept `IDENTITY_IDEMPOTENCY_KEY_TTL` seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from identity.admin.auth import CurrentAdministrator
from identity.deps import SessionDep, SettingsDep
from identity.store.idempotency import Answer, IdempotencyStore, KeyScope
from policy import idempotency

KEY_DESCRIPTION = (
    "Optional: any unique value (a UUID) of 1 to 200 printable ASCII characters. A retry "
    "with the same key and the same request replays the first answer (header "
    "`Idempotency-Replayed: true`) instead of creating again; the same key with another "
    "request is a 422 problem, and while the first request is still being processed a 409 "
    "problem. Keys are per administrator and organization, kept 24 hours (by default)."
)


class Replay(Exception):
    """The answer kept under a key, sent again instead of running the route."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(answer.status_code)
        self.answer = answer


async def handle_replay(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Replay)
    return JSONResponse(
        exc.answer.body,
        status_code=exc.answer.status_code,
        headers={idempotency.REPLAYED_HEADER: "true", "Cache-Control": "no-store"},
    )


@dataclass
class Idempotent:
    """The request's key (None without the header) and how its answer is kept."""

    session: AsyncSession
    store: IdempotencyStore
    scope: KeyScope | None
    request_hash: str
    status_code: int

    async def commit(self, body: Any) -> Any:
        """Keep `body` under the key with the change, commit once, and return it."""
        if self.scope is not None:
            answer = Answer(self.request_hash, self.status_code, jsonable_encoder(body))
            self.store.keep(self.scope, answer)
        try:
            await self.session.commit()
        except IntegrityError:
            if self.scope is None:
                raise
            await self.session.rollback()
            await self._answer_kept_meanwhile(self.scope)
            raise
        return body

    async def _answer_kept_meanwhile(self, scope: KeyScope) -> None:
        """After a conflict at commit: the answer another request kept under the key
        (replayed, or refused if it was another request); nothing if the conflict was not
        the key's."""
        kept = await self.store.find(scope)
        if kept is not None:
            raise Replay(kept) if kept.request_hash == self.request_hash else idempotency.reused()


def _status(request: Request) -> int:
    route = request.scope.get("route")
    return int(getattr(route, "status_code", None) or 200)


async def idempotent(
    request: Request,
    admin: CurrentAdministrator,
    session: SessionDep,
    settings: SettingsDep,
    key: Annotated[
        str | None, Header(alias=idempotency.KEY_HEADER, description=KEY_DESCRIPTION)
    ] = None,
) -> Idempotent:
    store = IdempotencyStore(session, settings)
    if key is None:
        return Idempotent(session, store, None, "", _status(request))
    if (refusal := idempotency.key_problem(key)) is not None:
        raise refusal
    org_id = str(request.path_params.get("org_id", ""))
    if org_id:
        admin.organization(org_id)  # 404 before anything is held or replayed
    scope = KeyScope(admin.user.id, org_id, key)
    if not await store.hold(scope):
        raise idempotency.in_use()
    digest = idempotency.request_digest(
        await request.body(), f"{request.method} {request.url.path}"
    )
    kept = await store.find(scope)
    if kept is not None:
        if kept.request_hash != digest:
            raise idempotency.reused()
        raise Replay(kept)
    return Idempotent(session, store, scope, digest, _status(request))


Idempotency = Annotated[Idempotent, Depends(idempotent)]
