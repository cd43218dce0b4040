"""`make bench`'s own parts, without running a benchmark: reading wrk's result,
the table's pass/fail, the Lua scripts and the reference provider's files."""

from __future__ import annotations

import asyncio
import collections
import json
import os
import shutil
import subprocess
from types import SimpleNamespace
from typing import cast

import pytest

from bench import login, wrk
from bench.harness import REFERENCE_DIR, Setup, hash_threads
from bench.table import Row, Target, render

WRK_OUTPUT = """Running 10s test @ http://127.0.0.1:8000/token
  2 threads and 32 connections
WRK_JSON {"requests": 41000, "duration_us": 10000000, "p50_us": 7400, "p99_us": 21000, \
"connect": 0, "read": 0, "write": 0, "status": 3, "timeout": 1}
"""


def test_wrk_result_is_read_from_the_done_hook_line() -> None:
    result = wrk.parse(WRK_OUTPUT)
    assert result.requests == 41000
    assert result.rps == pytest.approx(4100)
    assert (result.p50_ms, result.p99_ms) == (pytest.approx(7.4), pytest.approx(21.0))
    assert result.errors == 4


def test_wrk_output_without_the_line_is_an_error() -> None:
    with pytest.raises(ValueError, match="WRK_JSON"):
        wrk.parse("Running 10s test\n  Socket errors: connect 32\n")


def test_scripts_carry_the_request_and_the_done_hook() -> None:
    script = wrk.post_script('{"member_id": "M1"}', {"Authorization": "Bearer a.b.c"})
    assert 'wrk.method = "POST"' in script
    assert 'wrk.body = "{\\"member_id\\": \\"M1\\"}"' in script
    assert 'wrk.headers["Authorization"] = "Bearer a.b.c"' in script
    logins = wrk.login_script(
        f"/authorize?nonce={wrk.NONCE_MARK}", "/login", f"n%3D{wrk.NONCE_MARK}&x=1", {"C": "1"}
    )
    assert 'local get_parts = {"/authorize?nonce=", ""}' in logins
    assert 'local body_parts = {"n%3D", "&x=1"}' in logins
    assert 'wrk.format("POST", "/login", post_headers, fresh(body_parts))' in logins
    for text in (script, logins):
        assert "done = function(summary, latency, requests)" in text
        assert "latency:percentile(99)" in text


class Recorder:
    """A minimal keep-alive HTTP/1.1 server that answers 200 and notes each request line."""

    def __init__(self) -> None:
        self.seen: collections.Counter[str] = collections.Counter()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                lines = head.decode().split("\r\n")
                length = next(
                    (
                        int(v)
                        for k, _, v in (ln.partition(": ") for ln in lines)
                        if k.lower() == "content-length"
                    ),
                    0,
                )
                body = await reader.readexactly(length) if length else b""
                self.seen[f"{lines[0].rsplit(' ', 1)[0]} {body.decode()}".strip()] += 1
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def test_wrk_runs_the_scripts() -> None:
    """The scripts are the Lua wrk runs (its own LuaJIT): they load, send what they
    say and report through the done hook."""
    recorder = Recorder()
    server = await asyncio.start_server(recorder.serve, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        logins = wrk.login_script(f"/a?n={wrk.NONCE_MARK}", "/b", f"c={wrk.NONCE_MARK}", {})
        result = await wrk.run(url + "/a", logins, 1, connections=1)
        posted = await wrk.run(url + "/p", wrk.post_script("d=2", {"K": "v"}), 1, connections=1)
    finally:
        server.close()
        await server.wait_closed()
    gets = [k for k in recorder.seen if k.startswith("GET /a?n=r")]
    posts = [k for k in recorder.seen if k.startswith("POST /b c=r")]
    assert all(recorder.seen[k] == 1 for k in gets + posts), "a nonce sent twice"
    gets_n, posts_n = len(gets), len(posts)
    assert result.requests > 0 and result.errors == 0 and posted.errors == 0
    assert abs(gets_n - posts_n) <= 2 and gets_n + posts_n >= result.requests, recorder.seen
    assert recorder.seen["POST /p d=2"] >= posted.requests > 0, recorder.seen


def test_each_login_request_has_a_nonce_of_its_own() -> None:
    """A nonce used before is a replay: identity would answer an error redirect, not
    the form or a code, so the template must hold the nonce's place exactly once."""
    with pytest.raises(ValueError, match=wrk.NONCE_MARK):
        wrk.login_script("/authorize?nonce=fixed", "/login", f"n={wrk.NONCE_MARK}", {})
    script = wrk.login_script(f"/a?n={wrk.NONCE_MARK}", "/b", f"n={wrk.NONCE_MARK}", {})
    assert 'return parts[1] .. "r" .. run .. "t" .. id .. "n" .. n .. parts[2]' in script
    assert 'string.find(location, "?code=", 1, true)' in script  # anything else: an error
    assert "e.status + refused" in script


def test_rows_pass_or_fail_against_every_bound() -> None:
    target = Target(min_ratio=1.0, max_p99_ms=50)
    assert Row("fast", rps=4000, p99_ms=20, ratio=1.05, target=target).passed() is True
    assert Row("slow", rps=3000, p99_ms=20, ratio=0.8, target=target).passed() is False
    assert Row("tail", rps=4000, p99_ms=80, ratio=1.05, target=target).passed() is False
    assert Row("errors", rps=4000, p99_ms=20, ratio=1.1, target=target, errors=2).passed() is False
    assert Row("no ratio", rps=4000, p99_ms=20, target=target).passed() is None
    assert Row("reference", rps=4000, p99_ms=20).passed() is None
    flat = Target(max_ratio=1.2)
    assert Row("flat", ratio=1.1, target=flat).passed() is True
    assert Row("grew", ratio=1.3, target=flat).passed() is False
    assert Row("rate", rps=799, target=Target(min_rps=800)).verdict() == "FAIL"


def test_the_table_has_one_line_per_row_and_numbered_notes() -> None:
    rows = [
        Row("reference", rps=3809.4, p50_ms=7.9, p99_ms=20.2),
        Row("tinpass", 4000, 7, 30, 1.05, Target(min_ratio=1.0, max_p99_ms=50), note="ES256"),
        Row("missing", target=Target(min_rps=800), note="ES256", errors=1),
    ]
    lines = render(rows).splitlines()
    assert lines[0].split("|")[1].strip() == "case"
    assert "3,809" in lines[2] and "20.2" in lines[2]
    assert lines[3].rstrip().endswith("| pass   |") and "1.05x" in lines[3]
    assert "tinpass (1)" in lines[3] and "missing [1 errors] (1)" in lines[4]
    assert "FAIL" in lines[4]
    assert lines[-1] == "- (1) ES256"


def test_the_reference_provider_is_oidc_provider_9_pinned() -> None:
    package = json.loads((REFERENCE_DIR / "package.json").read_text())
    version = package["dependencies"]["oidc-provider"]
    assert version.split(".")[0] == "9" and version[0].isdigit(), "an exact 9.x version"
    lock = json.loads((REFERENCE_DIR / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/oidc-provider"]["version"] == version
    server = (REFERENCE_DIR / "server.js").read_text()
    for setting in ("client_secret_basic", "client_credentials", "accessTokenFormat: 'jwt'"):
        assert setting in server
    assert "alg: 'RS256'" in server


@pytest.mark.skipif(shutil.which("node") is None, reason="no Node.js here")
def test_the_reference_server_parses() -> None:
    node = shutil.which("node")
    assert node
    subprocess.run([node, "--check", str(REFERENCE_DIR / "server.js")], check=True)


def test_the_raw_rate_hashes_as_many_passwords_at_once_as_identity(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Workers times each one's hash threads (CPUs ÷ workers, at least one)."""
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    for workers, at_once in ((4, 4), (2, 4), (1, 4), (8, 8)):
        setup = cast(Setup, SimpleNamespace(workers=workers))
        assert login.raw_processes(setup) == at_once
        assert hash_threads(workers) * workers == at_once
