"""What a password login costs besides the hash (the issue's login target): the hash
runs in its own bounded threads, no connection is held while it runs, and the
authorization request's nonce is looked up once per request."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from typing import Any, cast

import anyio.to_thread
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from identity import security
from tests.identity.harness import PASSWORD, PORTAL, PORTAL_REDIRECT, IdentityHarness
from tests.identity.oauth.test_token_path import statements
from tests.support.oidc import Pkce, authorize_url, form_fields, query_of


@pytest.fixture
def two_hashing_threads() -> Iterator[None]:
    security.hashing_threads(2)
    try:
        yield
    finally:
        security.hashing_threads(0)


async def test_hashing_is_bounded_and_takes_no_shared_worker_thread(
    two_hashing_threads: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    active, most = 0, 0
    lock = threading.Lock()
    anyio_calls: list[Any] = []

    def slow_verify(password: str, hashed: str | None) -> tuple[bool, None]:
        nonlocal active, most
        with lock:
            active += 1
            most = max(most, active)
        time.sleep(0.05)
        with lock:
            active -= 1
        return True, None

    async def counting(func: Any, *args: Any, **kwargs: Any) -> Any:
        anyio_calls.append(func)
        raise AssertionError("password hashing took one of anyio's shared threads")

    monkeypatch.setattr(security, "verify_password", slow_verify)
    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
    results = await asyncio.gather(*(security.verify_password_async("x", "h") for _ in range(6)))
    assert results == [(True, None)] * 6
    assert most == 2 and anyio_calls == []


def test_one_hashing_thread_per_cpu_unless_configured(two_hashing_threads: None) -> None:
    assert security.hashing_threads(0) == (os.cpu_count() or 1)
    assert security.hashing_threads(3) == 3


async def test_a_login_holds_no_connection_while_the_password_hashes(
    identity: IdentityHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine: AsyncEngine = identity.app.state.sessionmaker.kw["bind"]
    pool = cast(QueuePool, engine.sync_engine.pool)
    held: list[int] = []
    real = security.verify_password

    def watching(password: str, hashed: str | None) -> tuple[bool, str | None]:
        held.append(pool.checkedout())
        return real(password, hashed)

    monkeypatch.setattr(security, "verify_password", watching)
    async with identity.client() as browser:
        page = await browser.get(authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new()))
        fields = form_fields(page.text)
        fields.pop("__action__")
        fields.update(username="sam.biller", password=PASSWORD)
        idle = pool.checkedout()  # background tasks' (the sealer's, on SQLite)
        with statements(engine) as seen:
            answer = await browser.post("/login", data=fields)
    assert answer.status_code == 302 and "code" in query_of(answer.headers["location"])
    assert held == [idle], "the login held a connection while the password hashed"
    nonce_reads = [s for s in seen if s.startswith("SELECT authorization_codes.code_digest")]
    assert len(nonce_reads) == 1, seen


async def test_a_login_reads_the_user_once_and_the_subject_in_one_statement(
    identity: IdentityHarness,
) -> None:
    """The password's lookup, then one statement for the account's standing (its
    memberships, organizations, TINs and roles: the second-factor rule and the code's
    subject both come from it), the nonce, and the login's writes."""
    engine: AsyncEngine = identity.app.state.sessionmaker.kw["bind"]
    async with identity.client() as browser:
        page = await browser.get(authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new()))
        fields = form_fields(page.text)
        fields.pop("__action__")
        fields.update(username="sam.biller", password=PASSWORD)
        with statements(engine) as seen:
            answer = await browser.post("/login", data=fields)
    assert answer.status_code == 302 and "code" in query_of(answer.headers["location"])
    reads = [s for s in seen if s.startswith("SELECT") and " FROM audit_" not in s]
    account = [s for s in reads if any(f" {t}." in s for t in ACCOUNT_TABLES)]
    assert len(account) == 2, account
    password, standing = account
    assert "WHERE users.username_normalized" in password and "JOIN" not in password
    assert all(f"JOIN {t} " in standing for t in ACCOUNT_TABLES[1:]), standing
    assert len([s for s in reads if "FROM authorization_codes" in s]) == 1, reads
    writes = [s.split(" (")[0].split(" SET")[0] for s in seen if not s.startswith("SELECT")]
    login_writes = [w for w in writes if "audit_events" not in w and "backchannel" not in w]
    assert sorted(login_writes) == [
        "INSERT INTO authorization_codes",
        "INSERT INTO sso_sessions",
        "UPDATE users",
    ], writes


ACCOUNT_TABLES = ("users", "memberships", "organizations", "membership_tax_ids", "tax_ids")
