"""The whole TINpass stack as real processes: used by `make run` and the e2e tests.

Migrates and seeds the databases with the services' own command lines, then
starts identity and, for each health plan, its eligibility, claims and gateway
(with the plan's portal) under uvicorn, waits until each answers `/healthz`, and
stops them all together. Every port is checked before anything starts; each
process answers with a header naming it and this run (`X-Tinpass-Instance`), so
another program answering `/healthz` on a port is never taken for a service; a
service that fails to start is reported with the end of its log, and the others
it started with are stopped. The first plan (Cascade Health Plan) always runs; a
second plan (Summit Health Plan, its own database and provider records matching
only Evergreen Pediatrics' TIN) runs when `summit_db` is given. Each portal is a
client at identity whose redirect and logout URIs follow its gateway's port. Each
plan's gateway and services accept only tokens for that plan's resource (RFC 8707).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
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
from policy.metrics import MULTIPROC_ENV

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
INSTANCE_HEADER = "x-tinpass-instance"
LOG_TAIL_LINES = 30


def ports_from_base(base: int) -> dict[str, int]:
    """Every port moved together: identity on `base`, the others as far from it as
    by default (`TINPASS_PORT_BASE=9000`: identity 9000, the gateways 9080 and 9081)."""
    first = DEFAULT_PORTS["identity"]
    highest = base + max(DEFAULT_PORTS.values()) - first
    if base < 1024 or highest > 65535:
        raise ValueError(f"a port base must be from 1024 to {65535 - highest + base}, not {base}")
    return {name: base + port - first for name, port in DEFAULT_PORTS.items()}


class StackError(RuntimeError):
    """The stack could not start; the message says why, in words for a person."""


class PortTaken(StackError):
    def __init__(self, name: str, port: int, reason: str) -> None:
        self.name, self.port = name, port
        super().__init__(
            f"Port {port} (127.0.0.1), which {name} needs, is taken: {reason}. Another "
            f"process listens there (`ss -ltnp 'sport = :{port}'` names it)."
        )


def port_problem(port: int) -> str | None:
    """Why `port` cannot be bound on 127.0.0.1 (as uvicorn binds it), or None."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as error:
            return error.strerror or str(error)
    return None


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
    start_within: float = 90
    processes: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)
    # this run's id, in every process's X-Tinpass-Instance answer header
    run_id: str = field(default_factory=lambda: secrets.token_hex(8))
    _log_starts: dict[str, int] = field(default_factory=dict)

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
        """Where service `name` is reached (by clients and by the other services)."""
        return f"http://127.0.0.1:{self.ports[name]}"

    def service_of(self, process: str) -> str:
        """The service a process runs: here each service is one process of its name
        (deploy.ha runs replicas, "gateway.1" and "gateway.2")."""
        return process

    def listen_port(self, process: str) -> int:
        """The port a process listens on: here its service's own."""
        return self.ports[process]

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
        await self.prepare_identity()
        for plan in self.plans:
            await self.prepare_plan(plan)

    async def prepare_identity(self) -> None:
        """Migrate and seed identity: the demo, its clients' URIs under this stack's URLs."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        identity_cli = str(BIN / "identity")
        await self.command("identity", identity_cli, "migrate")
        portals = [
            f"--portal={p.client_id}={self.url(p.process('gateway'))}"
            for p in self.plans
            if p.process("gateway") in self.ports
        ]
        await self.command(
            "identity", identity_cli, "seed-demo", "--data-dir", str(self.data_dir), *portals
        )

    async def prepare_plan(self, plan: Plan) -> None:
        """Migrate and seed a plan's database."""
        plan_cli, claims = str(BIN / "provider-data"), plan.process("claims")
        await self.command(claims, plan_cli, "migrate")
        tins = [f"--provider-tins={','.join(plan.provider_tins)}"] if plan.provider_tins else []
        await self.command(claims, plan_cli, "seed-demo", *tins)

    def check_ports(self, names: tuple[str, ...] | None = None) -> None:
        """Every port the processes `names` need is free (PortTaken names the first not)."""
        for name in names or self.names:
            if (reason := port_problem(self.ports[name])) is not None:
                raise PortTaken(name, self.ports[name], reason)

    async def start(self, names: tuple[str, ...] | None = None) -> None:
        """Start `names` (every process by default) once all their ports are free, and
        wait until each answers; if one fails, stop them all and raise StackError."""
        names = names or self.names
        self.check_ports(names)
        try:
            for name in names:
                await self._spawn(name)
            async with httpx.AsyncClient(timeout=2) as client:
                for name in names:
                    await self._wait_healthy(client, name, self.start_within)
        except BaseException:
            for name in names:
                await self.stop(name)
            raise

    def instance(self, name: str) -> str:
        return f"{name}.{self.run_id}"

    async def _spawn(self, name: str) -> None:
        """Start process `name` (a service, or a replica of one in deploy.ha)."""
        service = self.service_of(name)
        command = [
            str(BIN / "uvicorn"),
            "--factory",
            FACTORIES[service.rsplit("-", 1)[-1]],
            "--host",
            "127.0.0.1",
            "--port",
            str(self.listen_port(name)),
            *UVICORN_FLAGS,  # forwarded headers only from *_TRUSTED_PROXIES (policy.forwarded)
            "--header",
            f"{INSTANCE_HEADER}:{self.instance(name)}",
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        env = self.env(service)
        if self.workers > 1:
            command += ["--workers", str(self.workers)]
            env[MULTIPROC_ENV] = str(self.metrics_dir(name))
        if self.log_dir is None:
            self.processes[name] = await asyncio.create_subprocess_exec(*command, env=env)
            return
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.log_dir / f"{name}.log").open("ab") as log:
            self._log_starts[name] = log.tell()  # this run's lines begin here
            self.processes[name] = await asyncio.create_subprocess_exec(
                *command, env=env, stdout=log, stderr=log
            )

    def metrics_dir(self, name: str) -> Path:
        """An empty directory for the workers' metrics (prometheus-client's multiprocess
        mode: `/metrics` of any worker reports them all), emptied at every start."""
        directory = self.data_dir / "metrics" / name
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        return directory

    async def _wait_healthy(self, client: httpx.AsyncClient, name: str, within: float = 30) -> None:
        """Until `name` answers /healthz with its own instance header (not another
        program on its port), it exits, or `within` seconds pass."""
        deadline = asyncio.get_running_loop().time() + within
        foreign = False
        while asyncio.get_running_loop().time() < deadline:
            process = self.processes[name]
            if process.returncode is not None:
                raise StackError(
                    f"{name} exited with {process.returncode} while starting.{self.log_tail(name)}"
                )
            try:
                health = f"http://127.0.0.1:{self.listen_port(name)}/healthz"
                answer = await client.get(health)
                if answer.headers.get(INSTANCE_HEADER) == self.instance(name):
                    if answer.status_code == 200:
                        return
                else:
                    foreign = True
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
        port = self.listen_port(name)
        who = f"; another program answers on its port {port}" if foreign else ""
        raise StackError(f"{name} did not become healthy in {within} s{who}.{self.log_tail(name)}")

    def log_tail(self, name: str, lines: int = LOG_TAIL_LINES) -> str:
        """The last `lines` lines `name` logged in this run, to show under an error."""
        if self.log_dir is None:
            return " Its output is above."
        path = self.log_dir / f"{name}.log"
        try:
            with path.open("rb") as log:
                log.seek(self._log_starts.get(name, 0))
                text = log.read().decode(errors="replace")
        except OSError:
            return f" It left no log ({path})."
        tail = text.splitlines()[-lines:]
        if not tail:
            return f" Its log is empty ({path})."
        shown = "\n".join(f"    {line}" for line in tail)
        return f" The last {len(tail)} lines of its log ({path}):\n{shown}"

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
