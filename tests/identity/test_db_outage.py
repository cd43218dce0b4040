"""Identity with its database hanging, refusing or dropping connections (a TCP proxy
between identity and PostgreSQL): /token answers the OAuth error
`temporarily_unavailable`, the login form and console a page, the admin API and
/readyz a problem, all 503 with Retry-After, within the short timeouts set here, each
logged in one line; then the proxy passes again and identity recovers by itself."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.identity.admin_flows import admin_token, bearer, org_id_of
from tests.identity.harness import CLI, CLI_REDIRECT, IdentityHarness, running_identity
from tests.support.databases import db_kind
from tests.support.dbfaults import (
    SHORT_TIMEOUTS,
    assert_not_ready,
    assert_oauth_503,
    assert_one_line_per_failure,
    assert_page_503,
    assert_problem_503,
    cut_noticed,
    holding_a_connection,
    server_proxy,
    through,
)
from tests.support.faultproxy import FaultProxy
from tests.support.oidc import Pkce, authorize_url, form_fields

pytestmark = pytest.mark.skipif(
    db_kind() != "postgresql", reason="network faults between identity and a PostgreSQL server"
)


@dataclass
class Down:
    """Identity behind the proxy, with what a caller holds from before the outage."""

    identity: IdentityHarness
    proxy: FaultProxy
    browser: httpx.AsyncClient
    login_form: httpx.Response  # a login page with its CSRF token
    admin: dict[str, str]
    organization: str

    async def token(self) -> httpx.Response:
        secret = self.identity.credentials.curl_secret
        return await self.browser.post(
            "/token", data={"grant_type": "client_credentials"}, auth=("acme-curl", secret)
        )

    async def login(self) -> httpx.Response:
        fields = form_fields(self.login_form.text)
        action = fields.pop("__action__")
        fields.update(username="nobody.here", password="not a password")
        return await self.browser.post(self.login_form.url.join(action), data=fields)

    async def admin_call(self) -> httpx.Response:
        path = f"/api/v1/organizations/{self.organization}"
        return await self.browser.get(path, headers=self.admin)

    async def all_four(self) -> list[httpx.Response]:
        answers = await asyncio.gather(
            self.token(), self.login(), self.admin_call(), self.browser.get("/readyz")
        )
        return list(answers)


@pytest.fixture
async def down(tmp_path: Path) -> AsyncIterator[Down]:
    with server_proxy() as proxy:
        async with running_identity(
            tmp_path,
            route=lambda url: through(proxy, url),
            client_cache_seconds=0,  # every /token reads its client
            **SHORT_TIMEOUTS,
        ) as identity:
            admin = bearer(await admin_token(identity, "ever.admin"))
            organization = await org_id_of(identity, "Evergreen Family Clinic")
            async with identity.client() as browser:
                page = await browser.get(authorize_url(CLI, CLI_REDIRECT, Pkce.new()))
                assert 'name="password"' in page.text
                yield Down(identity, proxy, browser, page, admin, organization)


def assert_down(answers: list[httpx.Response]) -> None:
    token, login, admin, ready = answers
    assert_oauth_503(token)
    assert_page_503(login)
    assert_problem_503(admin)
    assert assert_not_ready(ready)["database"] == "unreachable"


def assert_up(answers: list[httpx.Response]) -> None:
    token, login, admin, ready = answers
    assert token.status_code == 200 and token.json()["access_token"]
    assert login.status_code == 401 and 'name="password"' in login.text  # the form again
    assert admin.status_code == 200, admin.text
    assert ready.status_code == 200 and ready.json()["status"] == "ok"


async def test_hanging_refusing_and_cut_database(
    down: Down, caplog: pytest.LogCaptureFixture
) -> None:
    assert_up(await down.all_four())
    with caplog.at_level(logging.WARNING):
        down.proxy.mode = "blackhole"  # pooled connections and new ones hang
        assert_down(await asyncio.wait_for(down.all_four(), 10))
        # the login page itself needs no database
        assert (await down.browser.get("/login")).status_code == 200
        down.proxy.mode = "refuse"
        assert_down(await asyncio.wait_for(down.all_four(), 10))
        assert_one_line_per_failure(caplog, 8)
    down.proxy.mode = "pass"
    assert_up(await down.all_four())  # recovered, no restart

    caplog.clear()
    engine = down.identity.app.state.sessionmaker.kw["bind"]
    with caplog.at_level(logging.WARNING):
        down.proxy.cut()  # idle pooled connections dropped: replaced, nothing fails
        await cut_noticed(engine)
        assert_up(await down.all_four())
        down.proxy.mode = "blackhole"  # a request waits on the database, then the cut
        asking = asyncio.ensure_future(down.admin_call())
        await holding_a_connection(engine)
        down.proxy.cut()  # the request's connection is gone (or it hangs: a new one)
        assert_problem_503(await asyncio.wait_for(asking, 5))
        down.proxy.mode = "pass"
        assert_one_line_per_failure(caplog, 1)
    assert_up(await down.all_four())
