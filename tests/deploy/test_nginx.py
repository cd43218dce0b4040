"""deploy/nginx.py's configuration, run by Debian's nginx in front of two small servers:
one that dies with the request in hand (reads it, then resets the connection, as a
replica killed by SIGKILL), one that answers. What nginx resends to the other replica
and what it does not is the retry policy of `make run-ha` (README, "Running replicas
behind nginx"). Each case has a front of its own, so its first request goes to the
first replica, the dying one (round robin starts there). No database: both passes run it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from deploy.nginx import PROXY_ADDRESS, Front, Nginx, binary
from deploy.stack import free_port

CASES = ("get", "post", "keyed", "keyed-elsewhere", "unkeyed-claim")


@dataclass
class Replicas:
    dying: int
    answering: int
    heard: list[dict[str, str]] = field(default_factory=list)  # what the answering one got


async def _read_request(reader: asyncio.StreamReader) -> dict[str, str]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:])}
    await reader.readexactly(int(headers.get("content-length", "0")))
    return {"request-line": head[0], **headers}


@pytest.fixture
async def replicas() -> AsyncIterator[Replicas]:
    pair = Replicas(free_port(), free_port())
    connections: list[asyncio.StreamWriter] = []

    async def dies(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.transport.abort()  # a reset, no answer: the request was in hand

    async def answers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                request = await _read_request(reader)
                request["peer"] = writer.get_extra_info("peername")[0]
                pair.heard.append(request)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nanswered")
                await writer.drain()

    servers = [
        await asyncio.start_server(dies, "127.0.0.1", pair.dying),
        await asyncio.start_server(answers, "127.0.0.1", pair.answering),
    ]
    try:
        yield pair
    finally:
        for server in servers:
            server.close()
            await server.wait_closed()
        for writer in connections:  # nginx's keep-alive connections
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


@pytest.fixture
async def fronts(replicas: Replicas, tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    if binary() is None:
        if os.environ.get("CI") == "true" or os.environ.get("TINPASS_REQUIRE_POSTGRES") == "1":
            pytest.fail(
                "nginx is required here (CI) but deploy/ensure_nginx.sh could not install it"
            )
        pytest.skip("no nginx on this machine (deploy/ensure_nginx.sh could not install it)")
    ports = {case: free_port() for case in CASES}
    nginx = Nginx(
        tmp_path / "nginx",
        [
            Front(case, port, (replicas.dying, replicas.answering), keyed_submissions=True)
            for case, port in ports.items()
        ],
    )
    process = await nginx.spawn()
    try:
        await nginx.wait_listening(process, 30)
        yield {case: f"http://127.0.0.1:{port}" for case, port in ports.items()}
    finally:
        process.terminate()
        await process.wait()


def _answered_by(response: httpx.Response) -> list[str]:
    _, _, addresses = response.headers["x-upstream"].partition("=")
    return [address.rpartition(":")[2] for address in addresses.split(", ")]


async def test_what_nginx_resends_when_a_replica_dies_with_the_request(
    fronts: dict[str, str], replicas: Replicas
) -> None:
    both = [str(replicas.dying), str(replicas.answering)]
    key = {"Idempotency-Key": "claim-1"}
    claim = "/claims/v1/claims"
    async with httpx.AsyncClient(timeout=30) as client:
        get = await client.get(fronts["get"] + "/claims/v1/claims?limit=5")
        post = await client.post(fronts["post"] + "/eligibility/v1/inquiries", json={})
        keyed = await client.post(fronts["keyed"] + claim, json={}, headers=key)
        elsewhere = await client.post(fronts["keyed-elsewhere"] + "/token", data={}, headers=key)
        unkeyed = await client.post(fronts["unkeyed-claim"] + claim, json={})
    assert get.status_code == 200 and _answered_by(get) == both, "a GET is resent"
    assert keyed.status_code == 200 and _answered_by(keyed) == both, "a keyed claim too"
    for refused in (post, elsewhere, unkeyed):
        assert refused.status_code == 502, "any other POST sent is not"
        assert _answered_by(refused) == [str(replicas.dying)]
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["retry-after"] == "1"
        assert refused.json()["type"].endswith("/upstream-unavailable")
    resent = {request["request-line"].split()[1]: request for request in replicas.heard}
    assert set(resent) == {"/claims/v1/claims?limit=5", claim}
    assert resent[claim]["idempotency-key"] == "claim-1"
    for request in resent.values():
        assert request["peer"] == PROXY_ADDRESS, "nginx connects from its own address"
        assert request["x-forwarded-for"] == "127.0.0.1" and request["x-forwarded-proto"] == "http"
        assert len(request["x-request-id"]) == 32, "nginx's request id when the caller sent none"
