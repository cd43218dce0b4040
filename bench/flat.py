"""Cost stays flat: the eligibility inquiry and password login at the base size
(10,000 members, provider records and users) against a large size (100,000, or
1,000,000 with BENCH_LARGE=1).

The large databases are copies of the base ones (CREATE DATABASE … TEMPLATE) grown
with filler rows made by PostgreSQL itself (bench.scale), so both sizes hold the same
demo data and answer the same requests. The service is then switched between them
(restarted on the other database) in turn, base, large, base, large, … for
BENCH_FLAT_ROUNDS rounds each, and measured at low concurrency (LOW_CONNECTIONS wrk
connections, so the service is not saturated) for BENCH_FLAT_SECONDS. A round's cost
is the CPU time the service's processes and its database's backends spent per request
(bench.cpu, from /proc): unlike wall-clock figures it does not grow when other work
shares the machine. The ratio is the median of the large rounds' costs ÷ the median
of the base rounds'; the mean latency per request at that fixed concurrency
(connections x seconds ÷ requests) is shown beside it. The statements each service
sent while answering are EXPLAINed on the large database (bench.explain): a
sequential scan of a large table fails the row.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

import httpx

from bench import cpu, explain, login, scale, wrk
from bench.cases import INQUIRY, INQUIRY_PATH, TINPASS_TOKEN_BODY, fetch_token, warmup
from bench.harness import Setup, fresh_database
from bench.table import Row, Target
from deploy.stack import BIN

LOW_CONNECTIONS = 2


def rounds() -> int:
    return int(os.environ.get("BENCH_FLAT_ROUNDS", "3"))


def seconds() -> float:
    return float(os.environ.get("BENCH_FLAT_SECONDS", "5"))


@dataclass
class Costs:
    """ms per request at LOW_CONNECTIONS, one entry per round, by size."""

    rounds: dict[int, list[float]] = field(default_factory=dict)
    cpu: dict[int, list[float]] = field(default_factory=dict)  # CPU ms per request
    p50: dict[int, list[float]] = field(default_factory=dict)
    errors: int = 0

    def add(self, size: int, result: wrk.WrkResult, per: int, cpu_seconds: float = 0) -> None:
        done = max(result.requests // per, 1)  # a login is a GET and a POST
        self.rounds.setdefault(size, []).append(LOW_CONNECTIONS * result.seconds * 1000 / done)
        self.cpu.setdefault(size, []).append(cpu_seconds * 1000 / done)
        self.p50.setdefault(size, []).append(result.p50_ms)
        self.errors += result.errors

    def median(self, size: int, cpu: bool = False) -> float:
        return statistics.median((self.cpu if cpu else self.rounds)[size])

    def describe(self, base: int, large: int) -> str:
        def by_round(values: dict[int, list[float]]) -> str:
            return ", ".join(
                f"{s:,}: " + "/".join(f"{c:.1f}" for c in values[s]) for s in (base, large)
            )

        latency = self.median(large) / self.median(base)
        return (
            f"interleaved base/large x {len(self.rounds[base])}, {LOW_CONNECTIONS} connections, "
            f"{seconds():g} s each; CPU ms per request of the service and its database "
            f"backends by round ({by_round(self.cpu)}); ÷ ref = median large ÷ median base "
            f"of those; latency ms per request ({by_round(self.rounds)}): {latency:.2f}x"
        )


async def interleaved(
    setup: Setup,
    service: str,
    databases: dict[int, str],
    script: Callable[[], Awaitable[tuple[str, str]]],
    per: int = 1,
) -> Costs:
    """Each size in turn, `rounds()` times: switch `service` to its database, check one
    answer and get the wrk (url, script), warm up, measure at LOW_CONNECTIONS (and the
    CPU time of the service's processes and database backends meanwhile)."""
    costs, switch = Costs(), switcher(setup, service)
    for _ in range(rounds()):
        for size, url in databases.items():
            await switch(url)
            target, lua = await script()
            await wrk.run(target, lua, warmup(), connections=LOW_CONNECTIONS)
            parent = setup.stack.processes[service].pid
            before = await cpu.snapshot(parent, url)
            result = await wrk.run(target, lua, seconds(), LOW_CONNECTIONS)
            costs.add(size, result, per, cpu.spent(before, await cpu.snapshot(parent, url)))
            print(
                f"  {service} at {size:,}: {costs.rounds[size][-1]:.1f} ms per request, "
                f"{costs.cpu[size][-1]:.2f} ms CPU",
                flush=True,
            )
    return costs


async def inquiry_script(setup: Setup) -> tuple[str, str]:
    stack = setup.stack
    token = await fetch_token(stack.issuer, setup.tinpass_authorization(), TINPASS_TOKEN_BODY)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    url = stack.url("eligibility") + INQUIRY_PATH
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.post(url, json=INQUIRY, headers=headers)
    if answer.status_code != 200 or answer.json().get("status") != "active":
        raise RuntimeError(f"{url} answered {answer.status_code}: {answer.text}")
    return url, wrk.post_script(json.dumps(INQUIRY), headers)


async def login_script(setup: Setup) -> tuple[str, str]:
    path, body, cookie = await login._login_form(setup)
    headers = {"Content-Type": login.FORM, "Cookie": f"{login.CSRF_COOKIE}={cookie}"}
    return setup.stack.issuer + "/authorize", wrk.login_script(path, "/login", body, headers)


def flat_row(case: str, costs: Costs, sizes: scale.Sizes, plans: explain.Plans) -> Row:
    large = costs.median(sizes.large)
    return Row(
        case,
        rps=LOW_CONNECTIONS * 1000 / large,
        p50_ms=statistics.median(costs.p50[sizes.large]),
        ratio=costs.median(sizes.large, cpu=True) / costs.median(sizes.base, cpu=True),
        target=Target(max_ratio=1.2),
        note=f"{costs.describe(sizes.base, sizes.large)}; {plans.describe(f'{sizes.large:,}')}",
        errors=costs.errors + len(plans.scans),
    )


def switcher(setup: Setup, service: str) -> Callable[[str], Awaitable[None]]:
    """Restarting `service` on another database."""
    attribute = "identity_db" if service == "identity" else "plan_db"

    async def switch(url: str) -> None:
        await setup.stack.stop(service)
        setattr(setup.stack, attribute, url)
        await setup.stack.start((service,))

    return switch


async def copies(setup: Setup, exits: AsyncExitStack, sizes: scale.Sizes) -> tuple[str, str]:
    """Large copies of the plan and identity databases (the services stopped meanwhile)."""
    stack = setup.stack
    await stack.stop("claims")
    await stack.stop("eligibility")
    await stack.stop("identity")
    plan = await exits.enter_async_context(fresh_database(setup.server, "plan1m", stack.plan_db))
    users = await exits.enter_async_context(
        fresh_database(setup.server, "identity1m", stack.identity_db)
    )
    await stack.start(("identity", "claims", "eligibility"))
    started = time.monotonic()
    print(f"Growing copies to {sizes.large:,} members, provider records, users...", flush=True)
    await scale.plan_up_to(plan, sizes.large)
    await scale.users_up_to(users, sizes.large)
    print(f"  grown in {time.monotonic() - started:.0f} s", flush=True)
    return plan, users


async def flat_rows(setup: Setup, sizes: scale.Sizes) -> list[Row]:
    stack = setup.stack
    base_plan, base_identity = stack.plan_db, stack.identity_db
    await scale.plan_up_to(base_plan, sizes.base)  # as many provider records as members
    await scale.analyze(base_identity)
    async with AsyncExitStack() as exits:
        plan, users = await copies(setup, exits, sizes)
        switch = switcher(setup, "eligibility")
        try:
            eligible = await interleaved(
                setup,
                "eligibility",
                {sizes.base: base_plan, sizes.large: plan},
                lambda: inquiry_script(setup),
            )
            await switch(plan)
            found = await explain.captured(setup, "eligibility", lambda: inquiry_script(setup))
            eligible_plans = await explain.explain(plan, found)
        finally:
            await switch(base_plan)
        switch = switcher(setup, "identity")
        try:
            logins = await interleaved(
                setup,
                "identity",
                {sizes.base: base_identity, sizes.large: users},
                lambda: login_script(setup),
                per=2,
            )
            await switch(users)
            found = await explain.captured(setup, "identity", lambda: login_and_janitor(setup))
            login_plans = await explain.explain(users, found)
        finally:
            await switch(base_identity)
    return [
        flat_row(
            f"eligibility (direct) at {sizes.large:,} members: cost ÷ at {sizes.base:,}",
            eligible,
            sizes,
            eligible_plans,
        ),
        flat_row(
            f"password login at {sizes.large:,} users: cost ÷ at {sizes.base:,}",
            logins,
            sizes,
            login_plans,
        ),
    ]


async def login_and_janitor(setup: Setup) -> None:
    """One login, and one janitor round (its batches' plans matter at size too)."""
    await login._login_form(setup)
    await setup.stack.command("identity", str(BIN / "identity"), "janitor")
