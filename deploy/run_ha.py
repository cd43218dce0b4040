"""`make run-ha`: two replicas of every service behind Debian's nginx, on PostgreSQL and
Redis (deploy.ha).

The databases are `tinpass_ha_identity`, `tinpass_ha_cascade` and `tinpass_ha_summit` on
the PostgreSQL server of `TINPASS_HA_POSTGRES_URL` (default
postgresql+asyncpg://postgres@127.0.0.1:5432/postgres), made when missing, then migrated
and seeded as `make run` does; Redis is `TINPASS_HA_REDIS_URL` (redis://127.0.0.1:6379/0),
every key under `tinpass-ha-`. nginx listens on the ports `make run` uses (identity 8000,
Cascade's gateway 8080, ...; `TINPASS_PORT_BASE` moves them as it does for `make run`);
a service's two replicas listen on that port + 100 and + 200, every port checked before
anything starts. Files (nginx's configuration and logs, the services' logs, the demo's secrets and
outbox) go to data/ha/. A replica that exits (try `kill -9`) leaves the others running,
and nginx sends its requests to the other replica; Ctrl-C stops everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

import asyncpg
import redis.asyncio as aioredis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from deploy.ha import NGINX, HaStack  # noqa: E402
from deploy.run_local import PORT_BASE, banner, ports  # noqa: E402
from deploy.stack import PortTaken, StackError  # noqa: E402

DEFAULT_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
DATABASES = {
    "identity": "tinpass_ha_identity",
    "cascade": "tinpass_ha_cascade",
    "summit": "tinpass_ha_summit",
}
KEY_PREFIX = "tinpass-ha"


async def ensure_databases(server: str) -> dict[str, str]:
    """The stack's database URLs on `server`, each database made when missing."""
    plain = server.replace("postgresql+asyncpg://", "postgresql://", 1)
    try:
        admin = await asyncpg.connect(plain)
    except (OSError, asyncpg.PostgresError) as error:
        raise SystemExit(
            f"PostgreSQL at {server} cannot be reached ({error}); set TINPASS_HA_POSTGRES_URL"
        ) from error
    try:
        have = {row["datname"] for row in await admin.fetch("SELECT datname FROM pg_database")}
        for name in DATABASES.values():
            if name not in have:
                await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = server.rpartition("/")[0]
    return {part: f"{base}/{name}" for part, name in DATABASES.items()}


async def check_redis(url: str) -> None:
    client = aioredis.from_url(url)
    try:
        await client.ping()
    except (OSError, aioredis.RedisError) as error:
        raise SystemExit(
            f"Redis at {url} cannot be reached ({error}); set TINPASS_HA_REDIS_URL"
        ) from error
    finally:
        await client.aclose()


def taken_message(error: PortTaken) -> str:
    return (
        f"{error} Nothing was started. Stop that process (is `make run` or another "
        f"`make run-ha` running?), or move every port: `{PORT_BASE}=10000 make run-ha` puts "
        "identity on 10000 and its replicas on 10100 and 10200."
    )


def describe_replicas(stack: HaStack) -> str:
    nginx = stack.nginx
    lines = [
        f"nginx ({nginx.conf}, log {nginx.prefix / 'access.log'}) in front of two replicas each:",
    ]
    for service in stack.names:
        replicas = ", ".join(
            f"{stack.replica_url(r)} (pid {stack.processes[r].pid})"
            for r in stack.replicas(service)
        )
        lines.append(f"  {service:<20} {stack.url(service)}  ->  {replicas}")
    lines += [
        "Every answer names the replica in X-Upstream, e.g.",
        f"  curl -si {stack.issuer}/healthz | grep -i x-upstream",
        "kill -9 a replica: nginx sends its requests to the other one "
        "(README, 'Running replicas behind nginx').",
        f"PostgreSQL: {', '.join(DATABASES.values())}; Redis: {stack.redis_url}, "
        f"keys {stack.key_prefix}-*",
        "",
    ]
    return "\n".join(lines)


async def watch(stack: HaStack, stop: asyncio.Event) -> None:
    """Until Ctrl-C or nginx ends; a replica that exits is reported, the rest run on."""
    waiting = {asyncio.create_task(p.wait()): name for name, p in stack.processes.items()}
    stopper = asyncio.create_task(stop.wait())
    while True:
        done, _ = await asyncio.wait([stopper, *waiting], return_when=asyncio.FIRST_COMPLETED)
        if stopper in done:
            break
        names = [waiting.pop(task) for task in done]
        if NGINX in names:
            print("nginx stopped unexpectedly; see its error log. Stopping the replicas.")
            break
        for name in names:
            code = stack.processes[name].returncode
            print(f"{name} exited ({code}); nginx sends its requests to the other replica.")
    for task in [stopper, *waiting]:
        task.cancel()


async def main() -> int:
    data = Path(os.environ.get("TINPASS_DATA_DIR", ROOT / "data")) / "ha"
    redis_url = os.environ.get("TINPASS_HA_REDIS_URL", "redis://127.0.0.1:6379/0")
    databases = await ensure_databases(os.environ.get("TINPASS_HA_POSTGRES_URL", DEFAULT_SERVER))
    await check_redis(redis_url)
    try:
        fronts = ports()  # make run's, or moved by TINPASS_PORT_BASE
        stack = HaStack(
            data_dir=data,
            identity_db=databases["identity"],
            plan_db=databases["cascade"],
            summit_db=databases["summit"],
            ports=fronts,
            replica_ports={name: (port + 100, port + 200) for name, port in fronts.items()},
            log_dir=data / "logs",
            redis_url=redis_url,
            key_prefix=KEY_PREFIX,
            start_within=120,  # fourteen processes start at once
        )
        stack.check_ports()  # before migrating or seeding anything
    except PortTaken as error:
        print(taken_message(error), file=sys.stderr)
        return 1
    except StackError as error:
        print(error, file=sys.stderr)
        return 1
    print("Migrating and seeding the demo data on PostgreSQL...")
    await stack.prepare()
    return await run(stack)


async def run(stack: HaStack) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        print("Starting nginx and two replicas of each service...")
        try:
            await stack.start()
        except StackError as error:
            print(f"TINpass did not start: {error}\nEverything was stopped.", file=sys.stderr)
            return 1
        print(banner(stack))
        print(describe_replicas(stack), flush=True)
        await watch(stack, stop)
        return 0
    finally:
        print("Stopping...")
        with contextlib.suppress(Exception):
            await stack.stop()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
