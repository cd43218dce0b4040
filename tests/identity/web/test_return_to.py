"""Back to the page that asked for sign-in, and never to another site."""

from __future__ import annotations

import pytest

from identity.web.console import to_login
from identity.web.return_to import login_url, safe_path
from tests.identity.admin_flows import org_id_of
from tests.identity.harness import PASSWORD, IdentityHarness
from tests.identity.web.test_console import EVERGREEN
from tests.support.oidc import submit_login


@pytest.mark.parametrize(
    "path", ["/console", "/console/orgs/abc?done=profile", "/account", "/console/orgs/a%2Fb"]
)
def test_same_site_paths_are_kept(path: str) -> None:
    assert safe_path(path) == path


@pytest.mark.parametrize(
    "path",
    [
        None,
        "",
        "console",
        "//evil.example/console",
        "/\\evil.example",
        "https://evil.example/console",
        "/console\r\nSet-Cookie: x=1",
        "/con sole",
        "/" + "a" * 600,
    ],
)
def test_other_sites_and_odd_paths_are_refused(path: str | None) -> None:
    assert safe_path(path) is None
    assert login_url(path or "") == "/login"


async def test_signing_in_from_a_console_page_lands_back_on_it(identity: IdentityHarness) -> None:
    org = await org_id_of(identity, EVERGREEN)
    async with identity.client() as browser:
        asked = await browser.get(f"/console/orgs/{org}")
        assert asked.status_code == 303
        assert asked.headers["location"] == f"/login?next=/console/orgs/{org}"
        page = await browser.get(asked.headers["location"])
        done = await submit_login(browser, page, "ever.admin", PASSWORD)
        assert done.status_code == 303 and done.headers["location"] == f"/console/orgs/{org}"
        landed = await browser.get(done.headers["location"])
    assert landed.status_code == 200 and "<h1>Evergreen Family Clinic</h1>" in landed.text


async def test_the_console_home_returns_to_the_console(identity: IdentityHarness) -> None:
    async with identity.client() as browser:
        asked = await browser.get("/console")
        page = await browser.get(asked.headers["location"])
        done = await submit_login(browser, page, "ever.admin", PASSWORD)
    assert done.status_code == 303 and done.headers["location"] == "/console"


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example"])
async def test_no_open_redirect_after_sign_in(identity: IdentityHarness, target: str) -> None:
    async with identity.client() as browser:
        page = await browser.get("/login", params={"next": target})
        assert "tinpass_return" not in page.headers.get("set-cookie", "")
        done = await submit_login(browser, page, "ever.admin", PASSWORD)
    assert done.status_code == 200 and "You are signed in" in done.text


async def test_a_plain_sign_in_forgets_an_older_return_path(identity: IdentityHarness) -> None:
    async with identity.client() as browser:
        await browser.get("/login", params={"next": "/console"})
        page = await browser.get("/login")
        done = await submit_login(browser, page, "ever.admin", PASSWORD)
    assert done.status_code == 200 and "You are signed in" in done.text


def test_a_form_sent_after_the_session_ended_returns_to_the_console() -> None:
    assert to_login().headers["location"] == "/login?next=/console"
