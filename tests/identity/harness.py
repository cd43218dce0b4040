"""A running identity service (ASGI, lifespan started) on a fresh seeded database."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from identity.app import create_app
from identity.db import create_engine, migrate, session_factory
from identity.seed import DemoCredentials, seed_demo
from identity.settings import Settings
from tests.support.databases import fresh_database
from tests.support.smtp import Inbox, smtp_server

ISSUER = "http://127.0.0.1:8000"
PASSWORD = "Demo.Passw0rd-2026"
PORTAL = "cascade-portal"
PORTAL_REDIRECT = "http://127.0.0.1:8080/portal/callback"
CLI = "tinpass-cli"
CLI_REDIRECT = "http://127.0.0.1:8765/callback"


@dataclass
class IdentityHarness:
    app: FastAPI
    settings: Settings
    credentials: DemoCredentials
    data_dir: Path

    def transport(self, source: str = "127.0.0.1") -> httpx.ASGITransport:
        return httpx.ASGITransport(app=self.app, client=(source, 50000))

    def client(self, source: str = "127.0.0.1", **kwargs: Any) -> httpx.AsyncClient:
        """A client calling from `source` (per-address throttles count each apart)."""
        return httpx.AsyncClient(transport=self.transport(source), base_url=ISSUER, **kwargs)

    def session(self) -> AsyncSession:
        maker: async_sessionmaker[AsyncSession] = self.app.state.sessionmaker
        return maker()

    async def recovery_mail_sent(self) -> None:
        """Wait until the recovery desk has handled (and mailed) every request."""
        await self.app.state.recovery_desk.drained()

    def integrator_key(self) -> dict[str, Any]:
        key: dict[str, Any] = json.loads(Path(self.credentials.integrator_key_path).read_text())
        return key


@asynccontextmanager
async def running_identity(tmp: Path, **overrides: Any) -> AsyncIterator[IdentityHarness]:
    """`route=` (a function of the URL) gives the URL the service reaches its database
    by (a fault proxy's)."""
    route: Callable[[str], str] | None = overrides.pop("route", None)
    async with fresh_database("identity", tmp) as url:
        await anyio.to_thread.run_sync(migrate, url)
        # Tests sign in many times from one address; throttling has its own tests.
        # The back-channel sender and the janitor are driven by the tests themselves,
        # not their loops.
        options = {
            "login_rate_limit": "10000/minute",
            "token_rate_limit": "10000/minute",
            "recovery_rate_limit": "10000/minute",
            "recovery_account_rate_limit": "10000/minute",
            "invitation_rate_limit_per_organization": "10000/minute",
            "invitation_rate_limit_per_address": "10000/minute",
            "backchannel_interval": 3600.0,
            "janitor_interval": 0,
            # So is the audit sealer (`audit.seal`): tests compare tables around requests.
            "audit_seal_interval": 3600.0,
            **overrides,
        }
        options.setdefault("issuer", ISSUER)
        settings = Settings(
            environment="test", database_url=route(url) if route else url, **options
        )
        engine = create_engine(url)
        async with session_factory(engine)() as session:
            credentials = await seed_demo(session, settings, tmp)
            await session.commit()
        await engine.dispose()
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            yield IdentityHarness(app, settings, credentials, tmp)


@asynccontextmanager
async def mailing_identity(
    tmp: Path, **overrides: Any
) -> AsyncIterator[tuple[IdentityHarness, Inbox]]:
    """An identity service whose mail goes to a real SMTP server (aiosmtpd)."""
    with smtp_server() as (inbox, port):
        options = {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_starttls": False}
        options.update(overrides)
        async with running_identity(tmp, **options) as identity:
            yield identity, inbox
