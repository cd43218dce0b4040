"""FastAPI dependencies of the identity service, as `Annotated` aliases.

All are `async def`: FastAPI runs a plain `def` dependency in the thread pool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from identity.keys import KeyStore
from identity.mail import Mailer
from identity.oauth.server import TinpassAuthorizationServer
from identity.recovery_mail import RecoveryDesk
from identity.settings import Settings
from identity.store import OAuthStore
from identity.throttle import Throttle
from policy import inputs


def request_id(request: Request) -> str:
    """The request's id (policy.observability: the caller's X-Request-ID when it is a
    safe id, else a new one), the one its answer and log line carry."""
    given: str | None = getattr(request.state, "request_id", None)
    return given or inputs.request_id(request.headers.get("x-request-id"))


def source_address(request: Request) -> str | None:
    """The client address Starlette reports for the request, if any."""
    return request.client.host if request.client else None


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request; handlers commit once, anything unhandled rolls back."""
    async with request.app.state.sessionmaker() as session:
        yield session


async def get_keystore(request: Request) -> KeyStore:
    keystore: KeyStore = request.app.state.keystore
    return keystore


async def get_throttle(request: Request) -> Throttle:
    throttle: Throttle = request.app.state.throttle
    return throttle


async def get_mailer(request: Request) -> Mailer:
    mailer: Mailer = request.app.state.mailer
    return mailer


async def get_recovery_desk(request: Request) -> RecoveryDesk:
    desk: RecoveryDesk = request.app.state.recovery_desk
    return desk


async def get_server(request: Request) -> TinpassAuthorizationServer:
    server: TinpassAuthorizationServer = request.app.state.oauth_server
    return server


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
KeyStoreDep = Annotated[KeyStore, Depends(get_keystore)]
ServerDep = Annotated[TinpassAuthorizationServer, Depends(get_server)]
ThrottleDep = Annotated[Throttle, Depends(get_throttle)]
MailerDep = Annotated[Mailer, Depends(get_mailer)]
RecoveryDeskDep = Annotated[RecoveryDesk, Depends(get_recovery_desk)]


async def get_store(session: SessionDep, settings: SettingsDep) -> OAuthStore:
    return OAuthStore(session, settings)


StoreDep = Annotated[OAuthStore, Depends(get_store)]
