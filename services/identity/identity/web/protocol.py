"""Running one protocol step: context in, queued writes, audit events and one commit out.

A step that changed nothing (no write queued, and its session never opened a
transaction: no conditional write, not even a read) has its events written by the
group-commit writer (policy.audit_batch) with other requests' events: a warm
client_credentials token. Everything else writes its events in its own transaction,
with the change they record.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from identity import audit
from identity.deps import source_address
from identity.keys import KeyStore
from identity.models import AuditEvent
from identity.oauth.bridge import ProtocolContext, run_writes
from identity.oauth.client_cache import ClientCache
from identity.settings import Settings
from identity.store import OAuthStore
from policy import metrics
from policy.dbpool import in_autocommit_reads


async def protocol_context(
    request: Request, store: OAuthStore, settings: Settings, keystore: KeyStore
) -> ProtocolContext:
    clients: ClientCache = request.app.state.client_cache
    return ProtocolContext(
        store=store,
        settings=settings,
        signing=await keystore.signing_key(),
        access_signing=await keystore.access_token_key(),
        jwks=await keystore.public_jwks(),
        clients=clients,
        request_id=request.state.request_id,
        source_address=source_address(request),
        audit_writer=getattr(request.app.state, "audit_writer", None),
        scope=request.scope,
    )


def event_rows(ctx: ProtocolContext) -> list[dict[str, Any]]:
    """The step's events as rows of the trail (and none left queued)."""
    rows = []
    for event, details in ctx.events:
        data: dict[str, Any] = dict(details)
        user_id = data.pop("user_id", None)
        client_id = data.get("client_id")
        outcome = data.pop("outcome", "success")
        rows.append(
            audit.event_row(
                event,
                actor_type="user" if user_id else "client",
                actor_id=user_id or client_id,
                target_type="client" if client_id else None,
                target_id=client_id,
                outcome=outcome,
                details=data,
                source_address=ctx.source_address,
                request_id=ctx.request_id,
            )
        )
    ctx.events.clear()
    return rows


def changed_nothing(ctx: ProtocolContext) -> bool:
    """No write queued and no transaction opened: the step read and wrote nothing."""
    return not ctx.writes and not ctx.store.session.in_transaction()


async def commit(ctx: ProtocolContext) -> None:
    """The step's queued writes, then its audit events, then one commit; a step that
    changed nothing only awaits its events' group commit. Once recorded, the events
    are counted (tokens, logins, failures, lockouts: policy.metrics). A step that
    began with `autocommit_reads` ends that mode first, so that anything written gets
    a transaction of its own."""
    if in_autocommit_reads(ctx.store.session):
        await ctx.store.session.commit()
    if ctx.audit_writer is not None and changed_nothing(ctx):
        rows = event_rows(ctx)
        await ctx.audit_writer.write(rows)
    else:
        await run_writes(ctx)
        session = ctx.store.session
        rows = event_rows(ctx)
        for row in rows:
            session.add(AuditEvent(**row))
        await session.commit()
    metrics.count_identity_events(rows)
