"""The container image (Containerfile): built from the working tree, or reused when an
image of the same inputs exists (deploy.image_build), then on fresh PostgreSQL
databases: migrations, seeding and the audit CLIs, and identity, eligibility, claims and
the gateway, each a container of the image with a read-only root file system, as its
unprivileged user, on the host's network (distinct ports). A person turns on two-step
sign-in and signs in at the plan's portal through the gateway (password, then a code);
an integrator's token reads eligibility through the gateway.

Runs where podman is (`make test-image`; `make test` installs podman when it can), on
PostgreSQL only (TINPASS_TEST_DB=postgresql): skipped elsewhere, failed when
TINPASS_REQUIRE_IMAGE=1 and podman is missing.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from deploy.image_build import ensure_image
from deploy.stack import free_port
from tests.deploy.containers import STATE, Containers, podman, require_podman
from tests.support.databases import db_kind, fresh_database
from tests.support.oidc import form_fields, sign_in
from tests.support.redis import require_redis

pytestmark = [pytest.mark.image, pytest.mark.timeout(1800)]

OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "image-logs"
PASSWORD = "Demo.Passw0rd-2026"
INQUIRY = {"member_id": "M1000101", "date_of_birth": "1985-04-12"}
SERVICES = ("identity", "eligibility", "claims", "gateway")


@dataclass
class Deployment:
    containers: Containers
    names: dict[str, str]  # service -> container
    ports: dict[str, int]
    state: Path
    identity_env: dict[str, str]
    plan_env: dict[str, str]

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def credentials(self) -> dict[str, Any]:
        return demo_credentials(self.state)


def demo_credentials(state: Path) -> dict[str, Any]:
    """What `identity seed-demo` wrote on the mounted state directory."""
    data: dict[str, Any] = json.loads((state / "demo" / "demo-credentials.json").read_text())
    return data


@pytest.fixture(scope="module")
def image() -> str:
    require_podman()
    if db_kind() != "postgresql":
        pytest.skip("the image runs on PostgreSQL: TINPASS_TEST_DB=postgresql runs it")
    return ensure_image()


def audit_key(path: Path) -> None:
    """An Ed25519 checkpoint key, as an operator makes one (outside the database)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def environments(
    ports: Mapping[str, int], identity_db: str, plan_db: str, redis_url: str
) -> tuple[dict[str, str], dict[str, str]]:
    """The containers' settings (as deploy.stack gives the processes of `make run`), with
    every file a service writes on the mounted state directory."""
    issuer = f"http://127.0.0.1:{ports['identity']}"
    common = {"HOST": "127.0.0.1", "TINPASS_ISSUER": issuer}
    identity = common | {
        "DATABASE_URL": identity_db,
        "IDENTITY_OUTBOX_DIR": f"{STATE}/identity/outbox",
        "IDENTITY_AUDIT_SIGNING_KEY_FILE": f"{STATE}/identity/audit.key",
        "IDENTITY_AUDIT_CHECKPOINT_DIR": f"{STATE}/identity/checkpoints",
    }
    plan = common | {
        "DATABASE_URL": plan_db,
        "PLAN_NAME": "Cascade Health Plan",
        "TINPASS_AUDIENCE": "https://api.cascade.plans.example",
        "PROVIDER_DATA_AUDIT_SIGNING_KEY_FILE": f"{STATE}/plan/audit.key",
        "PROVIDER_DATA_AUDIT_CHECKPOINT_DIR": f"{STATE}/plan/checkpoints",
        "PROVIDER_DATA_DEMO_MEMBERS": "0",  # the fixed demo only (a quicker seed)
        "PROVIDER_DATA_DEMO_CLAIMS": "0",
        "GATEWAY_PLAN_NAME": "Cascade Health Plan",
        "GATEWAY_ELIGIBILITY_URL": f"http://127.0.0.1:{ports['eligibility']}",
        "GATEWAY_CLAIMS_URL": f"http://127.0.0.1:{ports['claims']}",
        "GATEWAY_PORTAL_BASE_URL": f"http://127.0.0.1:{ports['gateway']}",
        "GATEWAY_PORTAL_SESSION_STORE_URL": redis_url,
        "GATEWAY_RATE_LIMIT_KEY_PREFIX": f"test-image-{uuid.uuid4().hex}",
    }
    return identity, plan


@pytest.fixture(scope="module")
async def deployment(
    image: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Deployment]:
    redis_url = await require_redis()
    tmp = tmp_path_factory.mktemp("image")
    state = tmp / "state"
    audit_key(state / "identity" / "audit.key")
    audit_key(state / "plan" / "audit.key")
    async with (
        fresh_database("identity", tmp) as identity_db,
        fresh_database("plan", tmp) as plan_db,
    ):
        ports = {service: free_port() for service in SERVICES}
        identity_env, plan_env = environments(ports, identity_db, plan_db, redis_url)
        containers = Containers(image, state, OUTPUT)
        try:
            names = await start(containers, ports, identity_env, plan_env)
            yield Deployment(containers, names, ports, state, identity_env, plan_env)
        finally:
            await containers.remove_all()


async def start(
    containers: Containers,
    ports: Mapping[str, int],
    identity_env: dict[str, str],
    plan_env: dict[str, str],
) -> dict[str, str]:
    """Migrate and seed from the image, then start the four services and wait for each."""
    await asyncio.gather(
        containers.run(identity_env, "migrate", "identity"),
        containers.run(plan_env, "migrate", "plan"),
    )
    portal = f"--portal=cascade-portal=http://127.0.0.1:{ports['gateway']}"
    await asyncio.gather(
        containers.run(
            identity_env, "identity", "seed-demo", "--data-dir", f"{STATE}/demo", portal
        ),
        containers.run(plan_env, "provider-data", "seed-demo"),
    )
    envs = {
        "identity": identity_env,
        "eligibility": plan_env,
        "claims": plan_env,
        "gateway": plan_env  # only the gateway learns its portal's secret
        | {
            "GATEWAY_PORTAL_CLIENT_ID": "cascade-portal",
            "GATEWAY_PORTAL_CLIENT_SECRET": demo_credentials(containers.state_dir)[
                "cascade-portal"
            ],
        },
    }
    started = await asyncio.gather(
        *(
            containers.start(service, envs[service] | {"PORT": str(ports[service])}, service)
            for service in SERVICES
        )
    )
    names = dict(zip(SERVICES, started, strict=True))
    await asyncio.gather(
        *(
            containers.wait_healthy(names[service], f"http://127.0.0.1:{ports[service]}")
            for service in SERVICES
        )
    )
    return names


def form_posting_to(html: str, action: str) -> dict[str, str]:
    """The named inputs of the page's form whose action is `action`."""
    index = 0
    while True:
        fields = form_fields(html, index)  # IndexError past the last form: a failure
        if fields["__action__"] == action:
            return fields
        index += 1


async def post(browser: httpx.AsyncClient, page: httpx.Response, **values: str) -> httpx.Response:
    fields = form_fields(page.text)
    action = fields.pop("__action__")
    return await browser.post(page.url.join(action), data=fields | values)


async def turn_on_two_step(deployment: Deployment, username: str) -> pyotp.TOTP:
    """At identity's account page: sign in, start two-step sign-in, confirm a code."""
    identity = deployment.url("identity")
    async with httpx.AsyncClient(follow_redirects=True) as browser:
        signed_in = await sign_in(browser, identity + "/login", username, PASSWORD)
        assert signed_in.status_code == 200, signed_in.text
        page = await browser.get(identity + "/account/mfa")
        start = form_posting_to(page.text, "/account/mfa/start")
        enroll = await browser.post(
            identity + "/account/mfa/start",
            data={k: v for k, v in start.items() if k != "__action__"},
        )
        assert enroll.status_code == 200, enroll.text
        secret = enroll.text.split('<code id="secret">', 1)[1].split("</code>", 1)[0]
        totp = pyotp.TOTP(secret)
        codes = await post(browser, enroll, code=totp.now())
    assert codes.status_code == 200 and "recovery" in codes.text.lower(), codes.text
    return totp


async def test_the_image_is_unprivileged_with_no_build_tools_and_a_healthcheck(
    image: str,
) -> None:
    _, config = await podman("image", "inspect", "--format", "{{.Config.User}}", image)
    assert config.strip() == "10001:10001"
    _, health = await podman("image", "inspect", "--format", "{{json .HealthCheck}}", image)
    assert "/healthz" in health, health
    status, found = await podman(
        "run",
        "--rm",
        "--read-only",
        "--no-healthcheck",
        image,
        "sh",
        "-c",
        "id -u; for t in gcc cc c++ make ld as; do command -v $t; done;"
        " python -c 'import pip' 2>/dev/null && echo pip-in-venv; true",
    )
    assert status == 0 and found.split() == ["10001"], found


async def test_migrate_run_and_sign_in_with_two_steps_through_the_gateway(
    deployment: Deployment,
) -> None:
    totp = await turn_on_two_step(deployment, "sam.biller")
    gateway = deployment.url("gateway")
    async with httpx.AsyncClient() as browser:
        start = await browser.get(gateway + "/portal/login")
        assert start.status_code == 302, start.text
        password = await sign_in(browser, start.headers["location"], "sam.biller", PASSWORD)
        assert password.status_code == 200 and 'name="code"' in password.text, password.text
        # the enrollment used this time step's code: the next step's is accepted once
        back = await post(browser, password, code=totp.at(time.time() + 30))
        assert back.status_code == 302, back.text
        assert back.headers["location"].startswith(gateway + "/portal/callback")
        landed = await browser.get(back.headers["location"])
        assert landed.status_code in (302, 303), landed.text
        portal = await browser.get(gateway + "/portal/")
    assert portal.status_code == 200, portal.text
    assert "12-3456789" in portal.text, portal.text


async def test_an_integrators_token_reads_eligibility_through_the_gateway(
    deployment: Deployment,
) -> None:
    auth = ("acme-curl", deployment.credentials()["acme-curl"])
    async with httpx.AsyncClient() as client:
        token = await client.post(
            deployment.url("identity") + "/token",
            data={"grant_type": "client_credentials", "scope": "eligibility:read"},
            auth=auth,
        )
        assert token.status_code == 200, token.text
        answer = await client.post(
            deployment.url("gateway") + "/eligibility/v1/inquiries",
            json=INQUIRY,
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "active"
    assert answer.headers["x-request-id"]


async def test_each_service_is_healthy_unprivileged_and_writes_only_where_mounted(
    deployment: Deployment,
) -> None:
    await asyncio.gather(*(unprivileged_and_read_only(c) for c in deployment.names.values()))
    # The audit trails, sealed and verified from the image, signed into the mounted paths.
    containers = deployment.containers

    async def seal_and_verify(env: dict[str, str], cli: str) -> str:
        await containers.run(env, cli, "audit", "seal")
        return await containers.run(env, cli, "audit", "verify")

    await asyncio.gather(
        seal_and_verify(deployment.identity_env, "identity"),
        seal_and_verify(deployment.plan_env, "provider-data"),
    )
    assert list((deployment.state / "identity" / "checkpoints").glob("*.json"))
    assert list((deployment.state / "plan" / "checkpoints").glob("*.json"))


async def unprivileged_and_read_only(container: str) -> None:
    await podman("healthcheck", "run", container)  # the image's HEALTHCHECK passes
    _, uid = await podman("exec", container, "id", "-u")
    assert uid.strip() == "10001", (container, uid)
    status, _ = await podman("exec", container, "touch", "/opt/tinpass/written", check=False)
    assert status != 0, f"{container}: the root file system is writable"
