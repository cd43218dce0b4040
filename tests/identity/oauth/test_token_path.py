"""The token endpoint's hot path: ES256 access tokens by default (RS256 on request),
clients cached with bounded staleness, few SQL statements, no worker thread."""

from __future__ import annotations

import time
import traceback
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import anyio.to_thread
import pytest
from joserfc import jws, jwt
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from identity.keys import key_set
from identity.models import Client
from identity.oauth.client_cache import invalidate_all
from identity.security import client_secret_digest
from tests.identity.flows import portal_tokens
from tests.identity.harness import IdentityHarness, running_identity

CURL = "acme-curl"


async def client_credentials(identity: IdentityHarness, secret: str) -> Any:
    async with identity.client() as http:
        return await http.post(
            "/token", data={"grant_type": "client_credentials"}, auth=(CURL, secret)
        )


async def access_token(identity: IdentityHarness) -> str:
    response = await client_credentials(identity, identity.credentials.curl_secret)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def published(identity: IdentityHarness) -> dict[str, Any]:
    async with identity.client() as http:
        jwks: dict[str, Any] = (await http.get("/.well-known/jwks.json")).json()
    return jwks


async def verified_alg(identity: IdentityHarness, token: str) -> str:
    """The token's algorithm, once its signature checks out under the published key
    its kid names, whose `alg` says the same."""
    jwks = await published(identity)
    header = jws.extract_compact(token.encode()).headers()
    (jwk,) = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    assert jwk["alg"] == header["alg"]
    jwt.decode(token, key_set({"keys": [jwk]}), algorithms=[header["alg"]])
    return str(header["alg"])


async def test_access_tokens_are_es256_and_id_tokens_rs256_by_default(
    identity: IdentityHarness,
) -> None:
    assert await verified_alg(identity, await access_token(identity)) == "ES256"
    tokens = await portal_tokens(identity, "sam.biller")
    assert await verified_alg(identity, tokens["access_token"]) == "ES256"
    assert await verified_alg(identity, tokens["id_token"]) == "RS256"
    algs = [k["alg"] for k in (await published(identity))["keys"]]
    assert sorted(algs) == ["ES256", "ES256", "RS256", "RS256"], "active and next, per algorithm"


@pytest.fixture(scope="module")
async def rs256_access(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[IdentityHarness]:
    tmp = tmp_path_factory.mktemp("rs256-access")
    async with running_identity(
        tmp, access_token_alg="RS256", client_cache_seconds=0.25
    ) as harness:
        yield harness


async def test_rs256_access_tokens_on_request(rs256_access: IdentityHarness) -> None:
    assert await verified_alg(rs256_access, await access_token(rs256_access)) == "RS256"
    algs = {k["alg"] for k in (await published(rs256_access))["keys"]}
    assert algs == {"RS256"}, "one algorithm in use: one key per generation"


async def test_a_client_changed_in_this_process_takes_effect_at_commit(
    identity: IdentityHarness,
) -> None:
    old = identity.credentials.curl_secret
    await access_token(identity)  # cached now
    async with identity.session() as session:
        row = await session.get(Client, CURL)
        assert row is not None
        row.secret_digest = client_secret_digest("rotated", identity.settings.client_secret_pepper)
        await session.commit()
    try:
        assert (await client_credentials(identity, old)).status_code == 401
        assert (await client_credentials(identity, "rotated")).status_code == 200
    finally:
        async with identity.session() as session:
            row = await session.get(Client, CURL)
            assert row is not None
            row.secret_digest = client_secret_digest(old, identity.settings.client_secret_pepper)
            await session.commit()
    assert (await client_credentials(identity, old)).status_code == 200


class Clock:
    """The client cache's clock, moved by the test (no sleeping through the bound)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def set_secret_elsewhere(identity: IdentityHarness, statement: str, **values: str) -> None:
    """A write this process's sessions do not notice (another replica's, here raw SQL)."""
    async with identity.session() as session:
        await session.execute(text(statement), values)
        await session.commit()


async def test_a_change_by_another_replica_takes_effect_within_the_cache_bound(
    rs256_access: IdentityHarness,
) -> None:
    """The cached client serves until `client_cache_seconds` have passed, then the
    change holds: a rotated secret, then a deleted client."""
    identity = rs256_access
    cache = identity.app.state.client_cache
    clock, bound = Clock(), identity.settings.client_cache_seconds
    cache.clock = clock
    invalidate_all()  # nothing cached on the real clock counts
    old = identity.credentials.curl_secret
    pepper = identity.settings.client_secret_pepper
    try:
        assert (await client_credentials(identity, old)).status_code == 200  # cached now
        await set_secret_elsewhere(
            identity,
            "UPDATE clients SET secret_digest = :d WHERE client_id = :c",
            d=client_secret_digest("elsewhere", pepper),
            c=CURL,
        )
        clock.now = 1000.0 + bound * 0.9
        assert (await client_credentials(identity, old)).status_code == 200  # within the bound
        clock.now = 1000.0 + bound  # read again from here on
        assert (await client_credentials(identity, old)).status_code == 401
        assert (await client_credentials(identity, "elsewhere")).status_code == 200
        await set_secret_elsewhere(identity, "DELETE FROM clients WHERE client_id = :c", c=CURL)
        assert (await client_credentials(identity, "elsewhere")).status_code == 200
        clock.now = 1000.0 + 2 * bound
        assert (await client_credentials(identity, "elsewhere")).status_code == 401
    finally:
        cache.clock = time.monotonic


@contextmanager
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


async def test_a_client_credentials_token_costs_few_statements(identity: IdentityHarness) -> None:
    """Regression guard: the client and the keys come from the process caches; what
    remains is the token's one write (`save_tokens`) and its audit event."""
    await access_token(identity)
    engine = identity.app.state.sessionmaker.kw["bind"]
    with statements(engine) as seen:
        await access_token(identity)
    reads = [s for s in seen if s.upper().startswith("SELECT")]
    assert not [s for s in reads if "clients" in s or "signing_keys" in s], reads
    assert len(seen) <= 4, seen


async def test_the_token_endpoint_runs_no_worker_thread(
    identity: IdentityHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await access_token(identity)  # caches warm
    calls: list[Any] = []
    real = anyio.to_thread.run_sync

    async def counting(func: Any, *args: Any, **kwargs: Any) -> Any:
        """Counts the calls made while serving a request (not background tasks')."""
        if any("/starlette/" in frame.filename for frame in traceback.extract_stack()):
            calls.append(func)
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
    for _ in range(3):
        await access_token(identity)
    assert calls == []
