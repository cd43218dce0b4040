"""The whole TINpass stack as real processes: used by `make run` and the e2e tests.

Migrates and seeds the databases with the services' own command lines, then
starts identity and, for each health plan, its eligibility, claims and gateway
(with the plan's portal) under uvicorn, waits until each answers `/healthz`, and
stops them all together. The first plan (Cascade Health Plan) always runs; a
second plan (Summit Health Plan, its own database and provider records matching
only Evergreen Pediatrics' TIN) runs when `summit_db` is given. Each portal is a
client at identity whose redirect and logout URIs follow its gateway's port. Each
plan's gateway and services accept only tokens for that plan's resource (RFC 8707).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from identity.settings import CASCADE_RESOURCE, SUMMIT_RESOURCE
from policy.forwarded import UVICORN_FLAGS

BIN = Path(sys.executable).parent
DEFAULT_PORTS = {
    "identity": 8000,
    "eligibility": 8001,
    "claims": 8002,
    "gateway": 8080,
    "summit-eligibility": 8011,
    "summit-claims": 8012,
    "summit-gateway": 8081,
}
FACTORIES = {
    "identity": "identity.app:create_app",
    "eligibility": "provider_data.api.eligibility:create_app",
    "claims": "provider_data.api.claims:create_app",
    "gateway": "gateway.app:create_app",
}
PLAN_SERVICES = ("eligibility", "claims", "gateway")


@dataclass(frozen=True)
class Plan:
    """One health plan: its own database, eligibility, claims and gateway with a portal."""

    prefix: str  # "" for the first plan; process names are "<prefix>-<service>" otherwise
    name: str
    client_id: str
    database: str
    resource: str  # RFC 8707: its APIs' audience; tokens for another plan are refused
    provider_tins: tuple[str, ...] = ()  # empty: every demo provider record

    def process(self, service: str) -> str:
        return f"{self.prefix}-{service}" if self.prefix else service


SUMMIT_TINS = ("987654321",)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


@dataclass
class Stack:
    data_dir: Path
    identity_db: str
    plan_db: str
    ports: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    log_dir: Path | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)
    summit_db: str | None = None
    # uvicorn worker processes per service (`make run`: 1; the bench: one per CPU)
    workers: int = 1
    # seconds a starting service has to answer /healthz (more on a loaded machine)
    start_within: float = 30
    processes: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)

    @property
    def plans(self) -> list[Plan]:
        plans = [Plan("", "Cascade Health Plan", "cascade-portal", self.plan_db, CASCADE_RESOURCE)]
        if self.summit_db:
            plans.append(
                Plan(
                    "summit",
                    "Summit Health Plan",
                    "summit-portal",
                    self.summit_db,
                    SUMMIT_RESOURCE,
                    SUMMIT_TINS,
                )
            )
        return plans

    @property
    def names(self) -> tuple[str, ...]:
        """Every process of the stack, identity first."""
        return ("identity", *(p.process(s) for p in self.plans for s in PLAN_SERVICES))

    def plan_of(self, name: str) -> Plan:
        return next(p for p in self.plans if name in {p.process(s) for s in PLAN_SERVICES})

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    @property
    def issuer(self) -> str:
        return self.url("identity")

    def env(self, name: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("IDENTITY_", "GATEWAY_"))}
        env.update(
            TINPASS_ISSUER=self.issuer,
            PYTHONUNBUFFERED="1",
            DATABASE_URL=self.identity_db,
            IDENTITY_OUTBOX_DIR=str(self.data_dir / "outbox"),
        )
        if name != "identity":
            env.update(self._plan_env(self.plan_of(name), gateway=name.endswith("gateway")))
        env.update(self.extra_env)
        return env

    def _plan_env(self, plan: Plan, *, gateway: bool) -> dict[str, str]:
        env = {
            "DATABASE_URL": plan.database,
            "PLAN_NAME": plan.name,
            "TINPASS_AUDIENCE": plan.resource,
            "GATEWAY_PLAN_NAME": plan.name,
            "GATEWAY_ELIGIBILITY_URL": self.url(plan.process("eligibility")),
            "GATEWAY_CLAIMS_URL": self.url(plan.process("claims")),
            "GATEWAY_PORTAL_BASE_URL": self.url(plan.process("gateway")),
        }
        secret_file = self.data_dir / "demo-credentials.json"
        if gateway and secret_file.exists():  # only the gateway learns its portal's secret
            env["GATEWAY_PORTAL_CLIENT_ID"] = plan.client_id
            env["GATEWAY_PORTAL_CLIENT_SECRET"] = self.credentials().get(plan.client_id, "")
        return env

    async def command(self, name: str, *args: str) -> None:
        """Run a command line (a service's CLI) with process `name`'s environment."""
        process = await asyncio.create_subprocess_exec(
            *args,
            env=self.env(name),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed:\n{output.decode(errors='replace')}")

    async def prepare(self) -> None:
        """Migrate and seed every database (idempotent)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        identity_cli, plan_cli = str(BIN / "identity"), str(BIN / "provider-data")
        await self.command("identity", identity_cli, "migrate")
        portals = [
            f"--portal={p.client_id}={self.url(p.process('gateway'))}"
            for p in self.plans
            if p.process("gateway") in self.ports
        ]
        await self.command(
            "identity", identity_cli, "seed-demo", "--data-dir", str(self.data_dir), *portals
        )
        for plan in self.plans:
            claims = plan.process("claims")
            await self.command(claims, plan_cli, "migrate")
            tins = [f"--provider-tins={','.join(plan.provider_tins)}"] if plan.provider_tins else []
            await self.command(claims, plan_cli, "seed-demo", *tins)

    async def start(self, names: tuple[str, ...] | None = None) -> None:
        names = names or self.names
        for name in names:
            await self._spawn(name)
        async with httpx.AsyncClient(timeout=2) as client:
            for name in names:
                await self._wait_healthy(client, name, self.start_within)

    async def _spawn(self, name: str) -> None:
        command = [
            str(BIN / "uvicorn"),
            "--factory",
            FACTORIES[name.rsplit("-", 1)[-1]],
            "--host",
            "127.0.0.1",
            "--port",
            str(self.ports[name]),
            *UVICORN_FLAGS,  # forwarded headers only from *_TRUSTED_PROXIES (policy.forwarded)
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        if self.workers > 1:
            command += ["--workers", str(self.workers)]
        if self.log_dir is None:
            self.processes[name] = await asyncio.create_subprocess_exec(
                *command, env=self.env(name)
            )
            return
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.log_dir / f"{name}.log").open("ab") as log:
            self.processes[name] = await asyncio.create_subprocess_exec(
                *command, env=self.env(name), stdout=log, stderr=log
            )

    async def _wait_healthy(self, client: httpx.AsyncClient, name: str, within: float = 30) -> None:
        deadline = asyncio.get_running_loop().time() + within
        while asyncio.get_running_loop().time() < deadline:
            process = self.processes[name]
            if process.returncode is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}{self._log_hint(name)}")
            try:
                if (await client.get(self.url(name) + "/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
        raise RuntimeError(f"{name} did not become healthy in {within} s{self._log_hint(name)}")

    def _log_hint(self, name: str) -> str:
        return f" (see {self.log_dir / (name + '.log')})" if self.log_dir else ""

    async def stop(self, name: str | None = None) -> None:
        targets = [name] if name else list(self.processes)
        for target in targets:
            process = self.processes.pop(target, None)
            if process is None or process.returncode is not None:
                continue
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), timeout=10)
            except TimeoutError:
                process.kill()
                await process.wait()

    def credentials(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.data_dir / "demo-credentials.json").read_text())
        return data
