"""The cases of `make bench`, each measured with wrk at 32 keep-alive connections.

Each case first makes one request itself and checks the answer (a bench of error
responses measures nothing), then warms up and measures for a fixed duration
(BENCH_WARMUP, BENCH_DURATION seconds).
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
from joserfc import jws

from bench import wrk
from bench.harness import REF_RESOURCE, REF_SCOPE, Setup
from deploy.stack import BIN
from identity.settings import CASCADE_RESOURCE
from identity.settings import Settings as IdentitySettings

FORM = "application/x-www-form-urlencoded"
TINPASS_TOKEN_BODY = urlencode(
    {"grant_type": "client_credentials", "scope": "eligibility:read", "resource": CASCADE_RESOURCE}
)
REFERENCE_TOKEN_BODY = urlencode(
    {"grant_type": "client_credentials", "scope": REF_SCOPE, "resource": REF_RESOURCE}
)
INQUIRY = {"member_id": "M1000101", "date_of_birth": "1985-04-12"}  # the demo seed's member
INQUIRY_PATH = "/eligibility/v1/inquiries"
ACCESS_ALG_ENV = "IDENTITY_ACCESS_TOKEN_ALG"


def duration() -> float:
    return float(os.environ.get("BENCH_DURATION", "10"))


def warmup() -> float:
    return float(os.environ.get("BENCH_WARMUP", "3"))


@dataclass(frozen=True)
class Measured:
    result: wrk.WrkResult
    note: str = ""


SETTLE_SECONDS = 2.0  # lets requests queued by the previous case drain first


async def measure(url: str, script: str) -> wrk.WrkResult:
    await asyncio.sleep(SETTLE_SECONDS)
    if warmup() > 0:
        await wrk.run(url, script, warmup())
    return await wrk.run(url, script, duration())


def token_alg(token: str) -> str:
    header: dict[str, str] = jws.extract_compact(token.encode()).protected
    return header["alg"]


async def fetch_token(url: str, authorization: str, body: str) -> str:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(
            url + "/token",
            content=body,
            headers={"Authorization": authorization, "Content-Type": FORM},
        )
    if response.status_code != 200:
        raise RuntimeError(f"{url}/token answered {response.status_code}: {response.text}")
    access: str = response.json()["access_token"]
    return access


async def reference_token(setup: Setup) -> Measured:
    ref = setup.reference
    await fetch_token(ref.url, ref.authorization, REFERENCE_TOKEN_BODY)
    script = wrk.post_script(
        REFERENCE_TOKEN_BODY, {"Content-Type": FORM, "Authorization": ref.authorization}
    )
    return Measured(await measure(ref.url + "/token", script))


def access_alg_setting() -> bool:
    """Whether identity has a setting for the access tokens' algorithm alone."""
    return "access_token_alg" in IdentitySettings.model_fields


async def use_access_alg(setup: Setup, alg: str) -> str:
    """Restart identity so that its access tokens are signed with `alg`; the means used.

    With IDENTITY_ACCESS_TOKEN_ALG when identity has it; otherwise by rotating the
    signing keys (`rotate-keys --alg`, twice: the next key becomes active), which
    changes the ID tokens' algorithm too (client_credentials issues none)."""
    stack = setup.stack
    await stack.stop("identity")
    if access_alg_setting():
        stack.extra_env = {**stack.extra_env, ACCESS_ALG_ENV: alg}
        means = f"{ACCESS_ALG_ENV}={alg}"
    else:
        identity_cli = str(BIN / "identity")
        for _ in range(2):
            await stack.command("identity", identity_cli, "rotate-keys", "--alg", alg, "--force")
        means = f"rotate-keys --alg {alg}"
    await stack.start(("identity",))
    return means


async def tinpass_token(setup: Setup, alg: str) -> Measured:
    """client_credentials at identity, client_secret_basic, JWT access token signed with `alg`."""
    means = await use_access_alg(setup, alg)
    issuer, authorization = setup.stack.issuer, setup.tinpass_authorization()
    issued = token_alg(await fetch_token(issuer, authorization, TINPASS_TOKEN_BODY))
    if issued != alg:
        return Measured(wrk.WrkResult(0, 0, 0, 0, 1), f"asked {alg} by {means}, got {issued}")
    script = wrk.post_script(
        TINPASS_TOKEN_BODY, {"Content-Type": FORM, "Authorization": authorization}
    )
    note = "" if access_alg_setting() else f"by {means}"
    return Measured(await measure(issuer + "/token", script), note)


async def eligibility(setup: Setup, service: str) -> Measured:
    """One member's eligibility inquiry at `service` (gateway or eligibility), one token."""
    stack = setup.stack
    token = await fetch_token(stack.issuer, setup.tinpass_authorization(), TINPASS_TOKEN_BODY)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    url = stack.url(service) + INQUIRY_PATH
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.post(url, json=INQUIRY, headers=headers)
    if answer.status_code != 200 or answer.json().get("status") != "active":
        raise RuntimeError(f"{url} answered {answer.status_code}: {answer.text}")
    script = wrk.post_script(json.dumps(INQUIRY), headers)
    return Measured(await measure(url, script), f"token {token_alg(token)}")
