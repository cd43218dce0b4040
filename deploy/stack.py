"""The whole TINpass stack as real processes: used by `make run` and the e2e tests.

Migrates and seeds both databases with the services' own command lines, then
starts identity, eligibility, claims and gateway under uvicorn, waits until each
answers `/healthz`, and stops them all together.
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

BIN = Path(sys.executable).parent
DEFAULT_PORTS = {"identity": 8000, "eligibility": 8001, "claims": 8002, "gateway": 8080}
FACTORIES = {
    "identity": "identity.app:create_app",
    "eligibility": "provider_data.eligibility:create_app",
    "claims": "provider_data.claims:create_app",
    "gateway": "gateway.app:create_app",
}


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
    processes: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    @property
    def issuer(self) -> str:
        return self.url("identity")

    def env(self, name: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("IDENTITY_", "GATEWAY_"))}
        env.update(
            TINPASS_ISSUER=self.issuer,
            TINPASS_AUDIENCE="provider-data",
            PYTHONUNBUFFERED="1",
            DATABASE_URL=self.identity_db if name == "identity" else self.plan_db,
            GATEWAY_ELIGIBILITY_URL=self.url("eligibility"),
            GATEWAY_CLAIMS_URL=self.url("claims"),
            IDENTITY_OUTBOX_DIR=str(self.data_dir / "outbox"),
        )
        env.update(self.extra_env)
        return env

    async def _run(self, name: str, *args: str) -> None:
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
        """Migrate and seed both databases (idempotent)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        identity_cli, plan_cli = str(BIN / "identity"), str(BIN / "provider-data")
        await self._run("identity", identity_cli, "migrate")
        await self._run("identity", identity_cli, "seed-demo", "--data-dir", str(self.data_dir))
        await self._run("claims", plan_cli, "migrate")
        await self._run("claims", plan_cli, "seed-demo")

    async def start(self, names: tuple[str, ...] = tuple(FACTORIES)) -> None:
        for name in names:
            await self._spawn(name)
        async with httpx.AsyncClient(timeout=2) as client:
            for name in names:
                await self._wait_healthy(client, name)

    async def _spawn(self, name: str) -> None:
        command = [
            str(BIN / "uvicorn"),
            "--factory",
            FACTORIES[name],
            "--host",
            "127.0.0.1",
            "--port",
            str(self.ports[name]),
            "--no-access-log",
            "--log-level",
            "warning",
        ]
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
