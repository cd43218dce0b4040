"""The portal's session cookie: one name per plan, so two portals on one host (cookies
ignore ports) keep their own sessions and sign-in states; `__Host-` behind https."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import ValidationError

from deploy.stack import free_port
from gateway.settings import Settings
from tests.gateway.portal.conftest import Portal, portal_before
from tests.support.tokens import ISSUER, SUMMIT_AUDIENCE

CASCADE, SUMMIT = "http://portal.test:8080", "http://portal.test:8081"


def test_each_plan_has_its_own_cookie_name() -> None:
    cascade = Settings(plan_name="Cascade Health Plan")
    summit = Settings(plan_name="Summit Health Plan", audience=SUMMIT_AUDIENCE)
    assert cascade.portal_cookie == "portal_session_cascade_health_plan"
    assert summit.portal_cookie == "portal_session_summit_health_plan"
    assert cascade.portal_cookie_path == summit.portal_cookie_path == "/portal"
    chosen = Settings(portal_cookie_name="cascade_portal")
    assert chosen.portal_cookie == "cascade_portal"
    # a name with nothing to make a slug of: still one per plan, from its resource
    one, two = Settings(plan_name="健康"), Settings(plan_name="健康", audience=SUMMIT_AUDIENCE)
    assert (
        one.portal_cookie.startswith("portal_session_") and one.portal_cookie != two.portal_cookie
    )


def test_behind_https_the_cookie_is_host_only() -> None:
    settings = Settings(plan_name="Summit Health Plan", portal_base_url="https://summit.example")
    assert settings.portal_cookie == "__Host-portal_session_summit_health_plan"
    assert settings.portal_cookie_path == "/"


@pytest.mark.parametrize(
    "name", ["portal session", "a;b", "__Host-mine", "__Secure-mine", "x" * 65]
)
def test_a_cookie_name_that_cannot_work_is_refused(name: str) -> None:
    with pytest.raises(ValidationError, match="is not a portal cookie name"):
        Settings(portal_cookie_name=name)


async def test_an_https_portal_sets_a_host_prefixed_secure_cookie() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with portal_before(url, base_url="https://portal.test") as portal:
        metadata(portal)
        response = await portal.client.get("/portal/login")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("__Host-portal_session_cascade_health_plan=")
    attributes = [part.strip() for part in cookie.split(";")[1:]]
    assert {"Path=/", "Secure", "HttpOnly", "SameSite=Lax"} <= set(attributes)
    assert not [a for a in attributes if a.lower().startswith("domain")]


@pytest.fixture
async def two_portals() -> AsyncIterator[tuple[Portal, Portal, httpx.AsyncClient]]:
    """Cascade's and Summit's portals on one host, and one browser's cookie jar for both."""
    upstream = f"http://127.0.0.1:{free_port()}"
    async with AsyncExitStack() as stack:
        cascade = await stack.enter_async_context(portal_before(upstream, base_url=CASCADE))
        summit = await stack.enter_async_context(
            portal_before(
                upstream,
                base_url=SUMMIT,
                plan_name="Summit Health Plan",
                portal_client_id="summit-portal",
            )
        )
        browser = httpx.AsyncClient(
            mounts={
                CASCADE: httpx.ASGITransport(app=cascade.app),
                SUMMIT: httpx.ASGITransport(app=summit.app),
            }
        )
        await stack.enter_async_context(browser)
        for portal in (cascade, summit):
            metadata(portal)
        yield cascade, summit, browser


def metadata(portal: Portal) -> None:
    """Identity's discovery document as Authlib would have loaded it; its token endpoint
    refuses connections, so a callback that gets past the state check says so (503)."""
    portal.app.state.portal_oauth.tinpass.server_metadata.update(
        {
            "issuer": ISSUER,
            "authorization_endpoint": ISSUER + "/authorize",
            "token_endpoint": f"http://127.0.0.1:{free_port()}/token",
            "jwks_uri": ISSUER + "/.well-known/jwks.json",
            "_loaded_at": time.time(),
        }
    )


def state_of(response: httpx.Response) -> str:
    return parse_qs(urlsplit(response.headers["location"]).query)["state"][0]


async def test_two_portals_on_one_host_keep_their_own_sign_in_states(
    two_portals: tuple[Portal, Portal, httpx.AsyncClient],
) -> None:
    """Sign-in started at Cascade, then at Summit, in one browser: both cookies are kept
    (one name each), each session holds its own state, and each callback finds it."""
    cascade, summit, browser = two_portals
    at_cascade = state_of(await browser.get(CASCADE + "/portal/login"))
    at_summit = state_of(await browser.get(SUMMIT + "/portal/login"))
    jar = {cookie.name: cookie.value or "" for cookie in browser.cookies.jar}
    assert set(jar) == {cascade.cookie, summit.cookie}
    assert cascade.cookie != summit.cookie
    cascade_session = await cascade.sessions.load(jar[cascade.cookie])
    summit_session = await summit.sessions.load(jar[summit.cookie])
    assert cascade_session is not None and summit_session is not None
    assert f"_state_tinpass_{at_cascade}" in cascade_session
    assert f"_state_tinpass_{at_summit}" in summit_session
    # each callback comes back with its own state: found, so the sign-in goes on to the
    # token endpoint (refused here: 503), where another portal's state would be a 400
    for url, state in ((CASCADE, at_cascade), (SUMMIT, at_summit)):
        answer = await browser.get(url + f"/portal/callback?code=c&state={state}")
        assert answer.status_code == 503 and "cannot be reached" in answer.text
    crossed = await browser.get(CASCADE + f"/portal/callback?code=c&state={at_summit}")
    assert crossed.status_code == 400 and "did not complete" in crossed.text


async def test_signing_out_at_one_portal_leaves_the_other_cookie_alone(
    two_portals: tuple[Portal, Portal, httpx.AsyncClient],
) -> None:
    cascade, summit, browser = two_portals
    for portal in (cascade, summit):
        await portal.sessions.save("sess-" + portal.cookie, {"csrf": "c", "sid": "sso-1"})
        browser.cookies.set(portal.cookie, "sess-" + portal.cookie, "portal.test", "/portal")
    out = await browser.post(SUMMIT + "/portal/logout", data={"csrf_token": "c"})
    assert out.status_code == 303
    assert out.headers["set-cookie"].startswith(summit.cookie + "=;")
    assert [cookie.name for cookie in browser.cookies.jar] == [cascade.cookie]
    assert await cascade.sessions.load("sess-" + cascade.cookie) is not None
    assert await summit.sessions.load("sess-" + summit.cookie) is None
