"""Running TINpass's image under podman for tests: one-shot commands and services, each
with a read-only root file system (only /tmp, a tmpfs, and the mounted state directory
are writable), as the image's own unprivileged user, on the host's network."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from deploy.image_build import podman_env

STATE = "/var/lib/tinpass"  # the image's working directory: a volume in production


def image_test_required() -> bool:
    return os.environ.get("TINPASS_REQUIRE_IMAGE") == "1"


def require_podman() -> None:
    if shutil.which("podman") is None:
        if image_test_required():
            pytest.fail("podman is required for the image test here but is not installed")
        pytest.skip("no podman on this machine (deploy/ensure_podman.sh could not install it)")


async def podman(*args: str, check: bool = True) -> tuple[int, str]:
    """Run `podman ARGS` (deploy/image/containers.conf); exit status and standard output
    (standard error joins it in the failure's message)."""
    process = await asyncio.create_subprocess_exec(
        "podman",
        *args,
        env=podman_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    output, errors = await process.communicate()
    text = output.decode(errors="replace")
    if check and process.returncode != 0:
        raise AssertionError(
            f"podman {' '.join(args)} exited {process.returncode}:\n{text}"
            f"{errors.decode(errors='replace')}"
        )
    return process.returncode or 0, text


@dataclass
class Containers:
    """The containers of one test run, named after it, removed together."""

    image: str
    state_dir: Path  # mounted at /var/lib/tinpass (chowned to the image's user)
    log_dir: Path
    prefix: str = field(default_factory=lambda: f"tinpass-test-{uuid.uuid4().hex[:8]}")
    running: dict[str, str] = field(default_factory=dict)  # container -> service

    def _options(self, env: Mapping[str, str]) -> list[str]:
        options = [
            "--read-only",
            "--read-only-tmpfs=false",  # as docker's --read-only: nothing writable but these
            "--tmpfs=/tmp:rw,size=64m,mode=1777",
            f"--volume={self.state_dir}:{STATE}:U",
            "--network=host",
        ]
        return options + [f"--env={name}={value}" for name, value in env.items()]

    async def run(self, env: Mapping[str, str], *command: str) -> str:
        """A one-shot command of the image (migrate, a CLI); its output."""
        _, output = await podman(
            "run", "--rm", "--no-healthcheck", *self._options(env), self.image, *command
        )
        return output

    async def start(self, name: str, env: Mapping[str, str], *command: str) -> str:
        """A service, detached; the container's name."""
        container = f"{self.prefix}-{name}"
        await podman(
            "run",
            "--detach",
            f"--name={container}",
            "--health-interval=disable",  # no systemd timers here: `healthcheck run` checks
            *self._options(env),
            self.image,
            *command,
        )
        self.running[container] = name
        return container

    async def wait_healthy(self, container: str, url: str, within: float = 60) -> None:
        deadline = asyncio.get_running_loop().time() + within
        async with httpx.AsyncClient(timeout=2) as client:
            while asyncio.get_running_loop().time() < deadline:
                _, state = await podman("inspect", "--format", "{{.State.Running}}", container)
                if state.strip() != "true":
                    raise AssertionError(f"{container} stopped:\n{await self.logs(container)}")
                try:
                    if (await client.get(url + "/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        logs = await self.logs(container)
        raise AssertionError(f"{container} not healthy in {within} s:\n{logs}")

    async def logs(self, container: str) -> str:
        process = await asyncio.create_subprocess_exec(
            "podman",
            "logs",
            container,
            env=podman_env(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await process.communicate()
        return output.decode(errors="replace")

    async def remove_all(self) -> None:
        """Keep each service's log (test-output/image-logs), then remove the containers."""
        self.log_dir.mkdir(parents=True, exist_ok=True)

        async def remove(container: str, service: str) -> None:
            (self.log_dir / f"{service}.log").write_text(await self.logs(container))
            await podman("rm", "--force", "--time=5", container, check=False)

        await asyncio.gather(*(remove(c, s) for c, s in self.running.items()))
        self.running.clear()
