"""Back-channel logout: signed logout tokens reach relying parties, with retries,
for logout and for sessions that time out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from joserfc import jwt
from sqlalchemy import select, update
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from identity import admin_ops
from identity.backchannel_logout import EVENT
from identity.keys import key_set
from identity.models import BackchannelDelivery, SsoSession
from tests.identity.harness import PASSWORD, IdentityHarness, running_identity
from tests.support.oidc import Pkce, authorize_url, query_of, sign_in
from tests.support.servers import serve

CLIENT = "bcl-portal"
REDIRECT = "http://127.0.0.1:9999/callback"


@dataclass
class RelyingParty:
    url: str = ""
    tokens: list[str] = field(default_factory=list)
    failures_left: int = 0

    async def receive(self, request: Request) -> Response:
        form = await request.form()
        if self.failures_left:
            self.failures_left -= 1
            return Response(status_code=503)
        self.tokens.append(str(form["logout_token"]))
        return Response(status_code=200)


@pytest.fixture(scope="module")
async def setup(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[IdentityHarness, RelyingParty]]:
    rp = RelyingParty()
    async with (
        serve(Starlette(routes=[Route("/bcl", rp.receive, methods=["POST"])])) as url,
        running_identity(tmp_path_factory.mktemp("bcl")) as identity,
    ):
        rp.url = url
        async with identity.session() as session:
            await admin_ops.create_client(
                session,
                identity.settings,
                CLIENT,
                "Portal with back-channel logout",
                kind="public",
                grant_types=["authorization_code"],
                scope="openid profile",
                auth_method="none",
                redirect_uris=[REDIRECT],
                backchannel_logout_uri=url + "/bcl",
            )
            await session.commit()
        yield identity, rp


async def sign_in_and_get_id_token(identity: IdentityHarness, browser: Any) -> dict[str, Any]:
    pkce = Pkce.new()
    response = await sign_in(
        browser,
        authorize_url(CLIENT, REDIRECT, pkce, scope="openid profile"),
        "sam.biller",
        PASSWORD,
    )
    token = await browser.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": query_of(response.headers["location"])["code"],
            "redirect_uri": REDIRECT,
            "client_id": CLIENT,
            "code_verifier": pkce.verifier,
        },
    )
    assert token.status_code == 200, token.text
    result: dict[str, Any] = token.json()
    return result


async def verified_claims(
    identity: IdentityHarness, token: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    keys = key_set(await identity.app.state.keystore.public_jwks())
    decoded = jwt.decode(token, keys, algorithms=["RS256", "ES256"])
    return dict(decoded.header), dict(decoded.claims)


async def test_logout_sends_a_signed_logout_token_naming_the_session(
    setup: tuple[IdentityHarness, RelyingParty],
) -> None:
    identity, rp = setup
    async with identity.client() as browser:
        tokens = await sign_in_and_get_id_token(identity, browser)
        await browser.get("/logout", params={"id_token_hint": tokens["id_token"]})
    sid = (await verified_claims(identity, tokens["id_token"]))[1]["sid"]
    assert await identity.app.state.backchannel.deliver_due() == 1
    header, claims = await verified_claims(identity, rp.tokens[-1])
    assert header["typ"] == "logout+jwt"
    assert claims["aud"] == CLIENT and claims["iss"] == identity.settings.issuer
    assert claims["sid"] == sid and claims["sub"] and claims["jti"]
    assert claims["events"] == {EVENT: {}} and "nonce" not in claims


async def test_failed_deliveries_are_retried(setup: tuple[IdentityHarness, RelyingParty]) -> None:
    identity, rp = setup
    rp.failures_left = 1
    before = len(rp.tokens)
    async with identity.client() as browser:
        tokens = await sign_in_and_get_id_token(identity, browser)
        await browser.get("/logout", params={"id_token_hint": tokens["id_token"]})
    assert await identity.app.state.backchannel.deliver_due() == 0
    async with identity.session() as session:
        delivery = await session.scalar(
            select(BackchannelDelivery).order_by(BackchannelDelivery.id.desc())
        )
        assert delivery is not None and delivery.attempts == 1 and delivery.last_error == "HTTP 503"
        await session.execute(
            update(BackchannelDelivery)
            .where(BackchannelDelivery.id == delivery.id)
            .values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await session.commit()
    assert await identity.app.state.backchannel.deliver_due() == 1
    assert len(rp.tokens) == before + 1


async def test_timed_out_sessions_are_ended_and_announced(
    setup: tuple[IdentityHarness, RelyingParty],
) -> None:
    identity, rp = setup
    before = len(rp.tokens)
    async with identity.client() as browser:
        tokens = await sign_in_and_get_id_token(identity, browser)
        sid = (await verified_claims(identity, tokens["id_token"]))[1]["sid"]
        async with identity.session() as session:
            await session.execute(
                update(SsoSession)
                .where(SsoSession.id == sid)
                .values(last_seen_at=datetime.now(UTC) - timedelta(hours=2))
            )
            await session.commit()
        assert await identity.app.state.backchannel.sweep_timeouts() == 1
        again = await browser.get(authorize_url(CLIENT, REDIRECT, Pkce.new(), scope="openid"))
    assert 'name="password"' in again.text, "an idle session no longer signs anybody in"
    assert await identity.app.state.backchannel.deliver_due() == 1
    assert (await verified_claims(identity, rp.tokens[before]))[1]["sid"] == sid
    async with identity.session() as session:
        ended = await session.get(SsoSession, sid)
    assert ended is not None and ended.end_reason == "timeout"
