"""FastAPI dependencies of the provider-data apps, as `Annotated` aliases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from policy import InvalidToken, Principal, TokenVerifier
from policy.observability import identify
from policy.rfc6750 import bearer_token
from provider_data.platform.problems import unauthorized
from provider_data.platform.settings import Settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessionmaker() as session:
        yield session


async def get_settings(request: Request) -> Settings:
    """Async: a plain function would be run in the thread pool on every request."""
    settings: Settings = request.app.state.settings
    return settings


async def current_principal(request: Request) -> Principal:
    """The verified token's principal; 401 with an RFC 6750 challenge otherwise."""
    verifier: TokenVerifier = request.app.state.verifier
    try:
        principal = await verifier.verify(bearer_token(request.headers.get("authorization")))
    except InvalidToken as error:
        raise unauthorized(error.error, error.description) from error
    identify(request.scope, principal.client_id, principal.org_id)  # its log line
    return principal


SessionDep = Annotated[AsyncSession, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
