"""A migrated, seeded plan database and both apps, reached over ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from policy import TokenVerifier
from provider_data.api import claims, eligibility
from provider_data.data.seed import seed_demo
from provider_data.platform.db import create_engine, migrate, session_factory
from provider_data.platform.settings import Settings
from tests.support.databases import fresh_database
from tests.support.tokens import AUDIENCE, ISSUER, JWKS_URI, TestIssuer


@dataclass
class Plan:
    issuer: TestIssuer
    eligibility: httpx.AsyncClient
    claims: httpx.AsyncClient
    sessions: async_sessionmaker[AsyncSession]
    database_url: str

    def auth(self, **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issuer.mint(**claims)}"}


def plan_settings(url: str) -> Settings:
    return Settings(environment="test", database_url=url, issuer=ISSUER, audience=AUDIENCE)


async def serve(
    stack: AsyncExitStack,
    factory: Callable[..., FastAPI],
    settings: Settings,
    verifier: TokenVerifier,
    *,
    raise_app_exceptions: bool = True,
) -> httpx.AsyncClient:
    """The app with its lifespan running, reached over ASGI until the stack closes."""
    app = factory(settings, verifier=verifier)
    await stack.enter_async_context(app.router.lifespan_context(app))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    return await stack.enter_async_context(
        httpx.AsyncClient(transport=transport, base_url="http://plan.test")
    )


@pytest.fixture(scope="module")
async def plan(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Plan]:
    issuer = TestIssuer()
    async with (
        fresh_database("plan", tmp_path_factory.mktemp("plan")) as url,
        AsyncExitStack() as stack,
    ):
        await anyio.to_thread.run_sync(migrate, url)
        engine = create_engine(url)
        stack.push_async_callback(engine.dispose)
        sessions = session_factory(engine)
        async with sessions() as session:
            await seed_demo(session)
            await session.commit()
        settings = plan_settings(url)
        jwks_client = await stack.enter_async_context(issuer.http_client())
        verifier = TokenVerifier(ISSUER, AUDIENCE, JWKS_URI, http_client=jwks_client)
        yield Plan(
            issuer,
            await serve(stack, eligibility.create_app, settings, verifier),
            await serve(stack, claims.create_app, settings, verifier),
            sessions,
            url,
        )


WRITE_SCOPE = "openid eligibility:read claims:read claims:write"
EVERGREEN_NPI = "1234567893"


def biller(plan: Plan, tin: str = "123456789", **claims: Any) -> dict[str, str]:
    """A billing user's token for one TIN, allowed to submit claims."""
    return plan.auth(scope=WRITE_SCOPE, roles=["subscriber", "billing"], tax_ids=[tin], **claims)


def claim_body(member_id: str, on: str = "2026-03-02", **changes: Any) -> dict[str, Any]:
    """A clean 837P-like claim from Evergreen Family Clinic: an office visit and a lab."""
    body: dict[str, Any] = {
        "patient_control_number": f"PCN-{member_id}-{on}",
        "billing_provider": {"npi": EVERGREEN_NPI, "tin": "123456789"},
        "rendering_provider_npi": EVERGREEN_NPI,
        "member": {"member_id": member_id},
        "diagnoses": ["J06.9"],
        "total_charge": "210.00",
        "lines": [
            {"procedure_code": "99213", "charge": "150.00", "service_date": on},
            {"procedure_code": "80053", "charge": "60.00", "service_date": on},
        ],
    }
    body.update(changes)
    return body


async def add_member(plan: Plan, member_id: str, product: str = "CHP-PPO") -> None:
    """A new subscriber with coverage from 2026-01-01 and nothing met yet."""
    from datetime import date

    from sqlalchemy import select

    from provider_data.platform.models import Coverage, Member, Product

    async with plan.sessions() as session:
        chosen = await session.scalar(select(Product).where(Product.code == product))
        assert chosen is not None
        member = Member(
            member_id=member_id,
            subscriber_id=member_id[:-2],
            first_name="Test",
            last_name="Member",
            date_of_birth=date(1990, 1, 1),
        )
        member.coverages = [Coverage(product_id=chosen.id, effective_date=date(2026, 1, 1))]
        session.add(member)
        await session.commit()
