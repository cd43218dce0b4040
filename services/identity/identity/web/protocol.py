"""Running one protocol step: context in, queued writes, audit events and one commit out."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from identity import audit
from identity.deps import source_address
from identity.keys import KeyStore
from identity.oauth.bridge import ProtocolContext, run_writes
from identity.oauth.client_cache import ClientCache
from identity.settings import Settings
from identity.store import OAuthStore


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
    )


async def write_events(ctx: ProtocolContext) -> None:
    """Write the step's events into its own transaction (the caller commits)."""
    for event, details in ctx.events:
        data: dict[str, Any] = dict(details)
        user_id = data.pop("user_id", None)
        client_id = data.get("client_id")
        outcome = data.pop("outcome", "success")
        await audit.record(
            ctx.store.session,
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
    ctx.events.clear()


async def commit(ctx: ProtocolContext) -> None:
    """The step's queued writes, then its audit events, then one commit."""
    await run_writes(ctx)
    await write_events(ctx)
    await ctx.store.session.commit()
