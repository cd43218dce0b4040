"""docs/integrators.md works as written: its Python blocks run as one script, its shell
blocks as one `bash -e` script, against a real stack (the package's two-plan stack)
with the demo integrator clients (`acme-curl`: client_secret_basic; `acme-integrator`:
private_key_jwt)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from deploy.stack import Stack

pytestmark = pytest.mark.e2e

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrators.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks(language: str) -> str:
    return "\n".join(code for lang, code in BLOCK.findall(DOC.read_text()) if lang == language)


async def _run(stack: Stack, *command: str, stdin: str) -> str:
    credentials = stack.credentials()
    env = {
        **os.environ,
        "ISSUER": stack.issuer,
        "GATEWAY": stack.url("gateway"),
        "CLIENT_ID": "acme-curl",
        "CLIENT_SECRET": credentials["acme-curl"],
        "KEY_FILE": credentials["acme-integrator-key-path"],
        "KEY_CLIENT_ID": "acme-integrator",
    }
    process = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin.encode()), timeout=60)
    assert process.returncode == 0, f"{command[0]} failed:\n{out.decode()}\n{err.decode()}"
    return out.decode()


def test_the_doc_has_what_it_promises() -> None:
    text = DOC.read_text()
    for topic in ("client_secret_basic", "private_key_jwt", "Retry-After", "Idempotency-Key",
                  "application/problem+json", "/docs", "invalid_scope"):  # fmt: skip
        assert topic in text, topic
    assert "docs/integrators.md" in (DOC.parents[1] / "README.md").read_text()


async def test_the_python_examples_run(two_plans: Stack) -> None:
    out = await _run(two_plans, sys.executable, "-", stdin=blocks("python"))
    assert "granted: eligibility:read claims:read claims:write" in out
    assert "private_key_jwt token for: claims:read" in out
    assert re.search(r"member is (active|inactive)", out)
    assert "application/problem+json" not in out and "https://tinpass.dev/problems/" in out
    assert "after any waits: 200" in out
    assert re.search(r"claim \S+ \w+", out)


async def test_the_curl_examples_run(two_plans: Stack) -> None:
    if shutil.which("curl") is None or shutil.which("jq") is None:
        pytest.fail(
            "the shell examples of docs/integrators.md need curl and jq: apt-get install curl jq"
        )
    out = await _run(two_plans, "bash", "-e", "-o", "pipefail", stdin=blocks("sh"))
    lines = out.splitlines()
    assert lines[0].startswith("asking ")
    assert lines[1] in ("active", "inactive")
    assert lines[2].isdigit()
    assert len(lines) == 5 and lines[3] == lines[4], "the retried submission is one claim"
