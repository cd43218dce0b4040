"""`make login` (deploy/demo_login.py) signs in through a loopback redirect on a
port the system picks (RFC 8252 §7.3), not a fixed one: run it against identity
on a real port, follow its URL as a browser would, and it saves the token."""

from __future__ import annotations

import contextlib
import io
import re
import threading
from pathlib import Path

import anyio
import anyio.to_thread
import httpx

from deploy import demo_login
from deploy.stack import free_port
from tests.identity.harness import PASSWORD, running_identity
from tests.support.oidc import jwt_claims, submit_login
from tests.support.servers import serve


class Printed(io.StringIO):
    """What `make login` prints; `url` is set once it has printed its URL."""

    def __init__(self) -> None:
        super().__init__()
        self.url = threading.Event()

    def write(self, text: str) -> int:
        written = super().write(text)
        if "/authorize?" in self.getvalue():
            self.url.set()
        return written


async def test_make_login_uses_a_free_loopback_port(tmp_path: Path) -> None:
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    printed = Printed()
    async with (
        running_identity(tmp_path / "identity", issuer=issuer) as identity,
        serve(identity.app, port),
        anyio.create_task_group() as group,
    ):

        async def login() -> None:
            with contextlib.redirect_stdout(printed):
                code = await anyio.to_thread.run_sync(
                    demo_login.main, issuer, tmp_path / "data", "http://gateway.test"
                )
            assert code == 0, printed.getvalue()

        group.start_soon(login)
        assert await anyio.to_thread.run_sync(printed.url.wait, 30)
        found = re.search(r"  (http://\S+/authorize\?\S+)", printed.getvalue())
        assert found, printed.getvalue()
        async with httpx.AsyncClient() as browser:
            page = await browser.get(found.group(1))
            assert page.status_code == 200, page.text
            answer = await submit_login(browser, page, "sam.biller", PASSWORD)
            location = answer.headers["location"]
            assert re.match(r"http://127\.0\.0\.1:\d+/callback\?", location), location
            assert not location.startswith("http://127.0.0.1:8765/")
            assert (await browser.get(location)).status_code == 200
    token = (tmp_path / "data" / "token.txt").read_text()
    assert jwt_claims(token)["iss"] == issuer
    assert "http://gateway.test/claims/v1/claims" in printed.getvalue()
