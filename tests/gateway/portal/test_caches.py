"""The portal's in-process caches are bounded in size and in age: the issuer's
discovery document and keys as Authlib keeps them, and the logout tokens' `jti`s."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from deploy.stack import free_port
from gateway.portal.backchannel import LEEWAY, MAX_AGE, MAX_SEEN, LogoutTokenVerifier
from gateway.portal.oidc import expire
from policy import JWKSCache
from tests.gateway.portal.conftest import Portal, portal_before
from tests.support.servers import serve


def test_metadata_and_keys_are_forgotten_at_the_bound() -> None:
    metadata = {"issuer": "i", "_loaded_at": 1000.0, "jwks": {"keys": []}}
    assert not expire(metadata, 300, now=1299.0)
    assert metadata["jwks"] == {"keys": []}
    assert expire(metadata, 300, now=1300.0)
    assert "_loaded_at" not in metadata and "jwks" not in metadata
    assert not expire(metadata, 300, now=5000.0)  # nothing loaded: nothing to forget


class Discovery:
    """Identity's discovery document on a real port, counting its fetches."""

    def __init__(self) -> None:
        self.url, self.fetches = "", 0
        self.app = Starlette(routes=[Route("/.well-known/openid-configuration", self.document)])

    async def document(self, request: Request) -> JSONResponse:
        self.fetches += 1
        return JSONResponse(
            {
                "issuer": self.url,
                "authorization_endpoint": self.url + "/authorize",
                "token_endpoint": self.url + "/token",
                "jwks_uri": self.url + "/jwks",
            }
        )


@pytest.fixture
async def discovered() -> AsyncIterator[tuple[Portal, Discovery]]:
    discovery = Discovery()
    async with serve(discovery.app) as url:
        discovery.url = url
        async with portal_before(f"http://127.0.0.1:{free_port()}", issuer_url=url) as portal:
            yield portal, discovery


async def test_the_portal_fetches_identitys_metadata_again_once_it_is_too_old(
    discovered: tuple[Portal, Discovery],
) -> None:
    portal, discovery = discovered
    for _ in range(3):
        assert (await portal.client.get("/portal/login")).status_code == 302
    assert discovery.fetches == 1  # kept while fresh
    metadata = portal.app.state.portal_oauth.tinpass.server_metadata
    metadata["jwks"] = {"keys": []}  # as after an ID token was checked
    bound = portal.app.state.settings.jwks_refresh_interval
    metadata["_loaded_at"] -= bound - 5  # not yet
    assert (await portal.client.get("/portal/login")).status_code == 302
    assert discovery.fetches == 1 and "jwks" in metadata
    metadata["_loaded_at"] -= 5  # the bound reached: fetched again, keys forgotten
    assert (await portal.client.get("/portal/login")).status_code == 302
    assert discovery.fetches == 2 and "jwks" not in metadata


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def verifier() -> AsyncIterator[tuple[LogoutTokenVerifier, Clock]]:
    clock = Clock()
    async with httpx.AsyncClient() as http:
        jwks = JWKSCache("http://127.0.0.1:9/jwks", http_client=http)
        yield LogoutTokenVerifier(jwks, "issuer", "client", clock=clock), clock


def test_seen_jtis_are_kept_while_their_token_could_be_accepted(
    verifier: tuple[LogoutTokenVerifier, Clock],
) -> None:
    seen, clock = verifier
    seen._remember("first")
    clock.now += MAX_AGE + LEEWAY - 1
    seen._remember("second")
    assert list(seen._seen) == ["first", "second"]
    clock.now += 2  # "first" could no longer be accepted: dropped at the next logout
    seen._remember("third")
    assert list(seen._seen) == ["second", "third"]


def test_at_most_max_seen_jtis_are_kept(verifier: tuple[LogoutTokenVerifier, Clock]) -> None:
    seen, _ = verifier
    for n in range(MAX_SEEN + 10):
        seen._remember(f"jti-{n}")
    assert len(seen._seen) == MAX_SEEN
    assert next(iter(seen._seen)) == "jti-10" and f"jti-{MAX_SEEN + 9}" in seen._seen
