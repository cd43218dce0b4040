"""The stack as replicas behind nginx: `make run-ha` and tests/e2e/test_ha.py.

Every service (identity, and each plan's eligibility, claims and gateway) runs as two
uvicorn processes of one worker each, "<service>.1" and "<service>.2", on ports of
their own; nginx (deploy.nginx) listens on the service's public port and spreads
requests over them. Everything that names a service uses nginx's URL: the issuer,
the gateway's upstreams (so the gateway reaches whichever eligibility and claims
replica is up), the portals' redirect and back-channel logout URIs. The databases are
PostgreSQL (every replica of a service on the same one) and everything a replica would
otherwise keep to itself is in Redis under `key_prefix`: the gateway's portal sessions
and rate limits, identity's throttle. Every service trusts forwarded headers from
nginx alone: nginx connects to the replicas from its own loopback address
(deploy.nginx.PROXY_ADDRESS).
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from deploy.nginx import PROXY_ADDRESS, Front, Nginx
from deploy.stack import PortTaken, Stack, StackError, port_problem

REPLICAS = 2
NGINX = "nginx"  # the process name of nginx in Stack.processes


@dataclass
class HaStack(Stack):
    """A Stack whose `ports` are nginx's (the services' public ports), with each
    service's replicas listening on `replica_ports[service]`."""

    replica_ports: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "tinpass-ha"  # of every Redis key the stack writes
    nginx_dir: Path | None = None  # nginx's config, pid, logs: data_dir/nginx by default
    proxy_address: str = PROXY_ADDRESS

    def replicas(self, service: str) -> list[str]:
        return [f"{service}.{n}" for n in range(1, len(self.replica_ports[service]) + 1)]

    def service_of(self, process: str) -> str:
        return process.rpartition(".")[0] or process

    def listen_port(self, process: str) -> int:
        service, _, number = process.rpartition(".")
        return self.replica_ports[service][int(number) - 1]

    def replica_url(self, process: str) -> str:
        """A replica itself, past nginx."""
        return f"http://127.0.0.1:{self.listen_port(process)}"

    def replica_at(self, address: str) -> str:
        """The replica listening at `address` ("127.0.0.1:PORT", as nginx names it)."""
        port = int(address.strip().rpartition(":")[2])
        return next(
            replica
            for service in self.replica_ports
            for replica in self.replicas(service)
            if self.listen_port(replica) == port
        )

    def env(self, name: str) -> dict[str, str]:
        env = super().env(name)
        hash_threads = max(1, (os.cpu_count() or 1) // REPLICAS)
        env.update(
            IDENTITY_TRUSTED_PROXIES=self.proxy_address,
            GATEWAY_TRUSTED_PROXIES=self.proxy_address,
            PROVIDER_DATA_TRUSTED_PROXIES=self.proxy_address,
            IDENTITY_RATE_LIMIT_STORAGE=self.redis_url,
            IDENTITY_RATE_LIMIT_KEY_PREFIX=f"{self.key_prefix}-identity",
            IDENTITY_PASSWORD_HASH_THREADS=str(hash_threads),  # CPUs / replicas
        )
        if name != "identity":
            env.update(
                GATEWAY_RATE_LIMIT_STORAGE_URL=self.redis_url,
                GATEWAY_PORTAL_SESSION_STORE_URL=self.redis_url,
                GATEWAY_RATE_LIMIT_KEY_PREFIX=f"{self.key_prefix}-{self.plan_of(name).client_id}",
            )
        env.update(self.extra_env)
        return env

    async def prepare(self) -> None:
        """Migrate and seed every database, each on its own at once (they are distinct)."""
        await asyncio.gather(self.prepare_identity(), *map(self.prepare_plan, self.plans))

    @property
    def nginx(self) -> Nginx:
        fronts = [
            Front(
                name,
                self.ports[name],
                tuple(self.replica_ports[name]),
                keyed_submissions=name.endswith(("claims", "gateway")),
            )
            for name in self.names
        ]
        return Nginx(self.nginx_dir or self.data_dir / "nginx", fronts, self.proxy_address)

    def check_ports(self, names: tuple[str, ...] | None = None) -> None:
        """nginx's port for each service of `names` and its replicas' are free."""
        for service in names or self.names:
            wanted = [(service, self.ports[service])]
            wanted += [(r, self.listen_port(r)) for r in self.replicas(service)]
            for name, port in wanted:
                if (reason := port_problem(port)) is not None:
                    raise PortTaken(name, port, reason)

    async def start(self, names: tuple[str, ...] | None = None) -> None:
        """nginx, then every replica of `names` (all services), once all their ports are
        free; returns once each replica answers /healthz, and each service answers it
        through nginx. If one fails, everything is stopped and StackError raised."""
        services = names or self.names
        self.check_ports(services)
        replicas = [replica for service in services for replica in self.replicas(service)]
        try:
            nginx = self.nginx
            self.processes[NGINX] = await nginx.spawn()
            await nginx.wait_listening(self.processes[NGINX], self.start_within)
            for replica in replicas:
                await self._spawn(replica)
            async with httpx.AsyncClient(timeout=2) as client:
                for replica in replicas:
                    await self._wait_healthy(client, replica, self.start_within)
                for service in services:
                    await self._wait_front(client, service)
        except BaseException:
            await self.stop()
            raise

    async def _wait_front(self, client: httpx.AsyncClient, service: str) -> None:
        """Until nginx passes /healthz to the service: a replica nginx found down (e.g.
        asked for identity's keys before identity listened) is tried again after
        deploy.nginx.FAIL_TIMEOUT seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.start_within
        while (answer := await client.get(self.url(service) + "/healthz")).status_code != 200:
            if loop.time() > deadline:
                raise StackError(
                    f"{service} answers {answer.status_code} through nginx{self.nginx.log_hint}"
                )
            await asyncio.sleep(0.1)

    async def restart(self, replica: str) -> None:
        """Start a replica that stopped (or was killed) again; back once it is healthy."""
        await self._spawn(replica)
        async with httpx.AsyncClient(timeout=2) as client:
            await self._wait_healthy(client, replica, self.start_within)

    async def kill(self, replica: str) -> None:
        """kill -9: no shutdown, no goodbye to the database, nginx or the clients."""
        process = self.processes[replica]
        process.send_signal(signal.SIGKILL)
        await process.wait()

    async def stop(self, name: str | None = None) -> None:
        """Every replica, then nginx (or the one process `name`)."""
        if name is not None:
            await super().stop(name)
            return
        replicas = [p for p in self.processes if p != NGINX]
        await asyncio.gather(*(Stack.stop(self, replica) for replica in replicas))
        await super().stop(NGINX)
