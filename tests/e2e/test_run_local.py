"""`make run` (deploy/run_local.py) does not mislead: a taken port is refused, naming
it, before anything is migrated, seeded or started; TINPASS_PORT_BASE moves every
port, URL, the issuer and the portals' redirect URIs; a program answering /healthz on
a service's port is not taken for the service; a service that dies while starting is
shown with the end of its log (this run's lines only) and the others are stopped."""

from __future__ import annotations

import asyncio
import os
import random
import re
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from deploy import run_local
from deploy.stack import (
    DEFAULT_PORTS,
    PortTaken,
    Stack,
    StackError,
    port_problem,
    ports_from_base,
    sqlite_url,
)
from identity.db import create_engine, session_factory
from identity.models import Client
from tests.support.databases import fresh_database
from tests.support.servers import serve

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
RUN_LOCAL = [sys.executable, str(ROOT / "deploy" / "run_local.py")]


def free_base() -> int:
    """A port base whose seven ports are all free now."""
    for _ in range(200):
        base = random.randrange(20000, 60000, 100)
        if all(port_problem(p) is None for p in ports_from_base(base).values()):
            return base
    raise AssertionError("no free port base found")


@contextmanager
def listening(port: int) -> Iterator[None]:
    """Another program holding `port`."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        yield


def run_local_env(base: int, data: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL"}}
    return {**env, "TINPASS_PORT_BASE": str(base), "TINPASS_DATA_DIR": str(data), **extra}


def test_the_port_base_moves_every_port() -> None:
    assert ports_from_base(8000) == DEFAULT_PORTS
    assert ports_from_base(9000) == {
        "identity": 9000,
        "eligibility": 9001,
        "claims": 9002,
        "gateway": 9080,
        "summit-eligibility": 9011,
        "summit-claims": 9012,
        "summit-gateway": 9081,
    }
    for wrong in (80, 65500):
        with pytest.raises(ValueError, match="a port base must be from 1024 to 65454"):
            ports_from_base(wrong)


@pytest.mark.parametrize("service", ["gateway", "summit-claims"])
async def test_a_taken_port_is_refused_before_anything_starts(tmp_path: Path, service: str) -> None:
    base = free_base()
    port = ports_from_base(base)[service]
    with listening(port):
        process = await asyncio.create_subprocess_exec(
            *RUN_LOCAL,
            env=run_local_env(base, tmp_path / "data"),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
    said = err.decode()
    assert process.returncode == 1, (out, err)
    assert f"Port {port} (127.0.0.1), which {service} needs, is taken" in said
    assert "Nothing was started" in said and "TINPASS_PORT_BASE=9000 make run" in said
    assert b"TINpass is running" not in out and b"Migrating" not in out
    assert not (tmp_path / "data").exists()  # no database, secret or log was made


async def test_the_port_base_moves_every_url_the_issuer_and_the_redirect_uris(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `make run` prints, what each service is told and what identity registers
    (its database on the pass's kind) all follow TINPASS_PORT_BASE."""
    base = free_base()
    monkeypatch.setenv("TINPASS_PORT_BASE", str(base))
    moved = set(ports_from_base(base).values())
    async with fresh_database("identity", tmp_path) as database:
        stack = _stack(tmp_path, ports=run_local.ports(), summit_db=sqlite_url(tmp_path / "s.db"))
        stack.identity_db = database
        await stack.prepare_identity()
        redirects = await _redirect_uris(database)
    banner = run_local.banner(stack)
    assert {int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", banner)} == moved, banner
    assert f"TINPASS_PORT_BASE={base} make login" in banner
    told = {
        value
        for name in stack.names
        for key, value in stack.env(name).items()
        if key == "TINPASS_ISSUER" or (key.startswith("GATEWAY_") and key.endswith("_URL"))
    }
    assert {int(url.rsplit(":", 1)[1]) for url in told} == {
        base,
        base + 1,
        base + 2,
        base + 80,
        base + 11,
        base + 12,
        base + 81,
    }
    assert stack.env("identity")["TINPASS_ISSUER"] == f"http://127.0.0.1:{base}"
    assert redirects["cascade-portal"][0] == f"http://127.0.0.1:{base + 80}/portal/callback"
    assert redirects["summit-portal"][0] == f"http://127.0.0.1:{base + 81}/portal/callback"
    assert redirects["tinpass-console"][0] == f"http://127.0.0.1:{base}/console/callback"


async def _redirect_uris(database: str) -> dict[str, list[str]]:
    engine = create_engine(database)
    try:
        async with session_factory(engine)() as session:
            rows = await session.execute(select(Client.client_id, Client.redirect_uris))
            return {client_id: list(uris) for client_id, uris in rows}
    finally:
        await engine.dispose()


def _stack(tmp_path: Path, **options: object) -> Stack:
    data = tmp_path / "data"
    return Stack(
        data_dir=data,
        identity_db=sqlite_url(data / "identity.db"),
        plan_db=sqlite_url(data / "plan.db"),
        **options,  # type: ignore[arg-type]
    )


async def test_a_service_that_dies_at_start_shows_its_log_tail(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "identity.log").write_text("a line from an earlier run\n")
    # outside development identity refuses the built-in secrets, and exits
    stack = _stack(
        tmp_path,
        ports={"identity": ports_from_base(free_base())["identity"]},
        log_dir=logs,
        extra_env={"IDENTITY_ENVIRONMENT": "production"},
        start_within=120,
    )
    with pytest.raises(StackError) as raised:
        await stack.start(("identity",))
    said = str(raised.value)
    assert said.startswith("identity exited with ")
    assert f"lines of its log ({logs / 'identity.log'})" in said
    assert "IDENTITY_SECRET_KEY" in said  # the reason, from the service's own log
    assert "an earlier run" not in said
    assert stack.processes == {}


async def test_another_program_answering_healthz_is_not_the_service(tmp_path: Path) -> None:
    async def healthz(request: object) -> PlainTextResponse:
        return PlainTextResponse("ok")

    foreign = Starlette(routes=[Route("/healthz", healthz)])
    base = free_base()
    async with serve(foreign, base) as url:
        stack = _stack(tmp_path, ports={"identity": base}, start_within=1)
        with pytest.raises(PortTaken, match=f"Port {base} "):
            stack.check_ports(("identity",))
        async with httpx.AsyncClient() as client:
            assert (await client.get(url + "/healthz")).status_code == 200
        # As if the port were taken between the check and the start: our process is
        # alive (not listening), the other program answers 200 without our header.
        stack.processes["identity"] = await asyncio.create_subprocess_exec("sleep", "60")
        try:
            with pytest.raises(StackError, match=f"another program answers on its port {base}"):
                async with httpx.AsyncClient(timeout=2) as client:
                    await stack._wait_healthy(client, "identity", stack.start_within)
        finally:
            await stack.stop()
