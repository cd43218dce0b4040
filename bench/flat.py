"""Cost stays flat: the eligibility inquiry and password login at the base size
(10,000 members, provider records and users) against a large size (100,000, or
1,000,000 with BENCH_LARGE=1).

The large databases are copies of the base ones (CREATE DATABASE … TEMPLATE) grown
with filler rows made by PostgreSQL itself (bench.scale), so both sizes hold the same
demo data and answer the same requests. The service is then switched between them
(restarted on the other database) in turn, base, large, base, large, … for
BENCH_FLAT_ROUNDS rounds each, and measured at low concurrency (LOW_CONNECTIONS wrk
connections: the machine is not saturated, so other load on a shared machine and the
CPU count matter less). A round's cost is the mean latency per request at that fixed
concurrency (connections x seconds ÷ requests); the ratio is the median of the large
rounds' costs ÷ the median of the base rounds'. The statements each service sent
while answering are EXPLAINed on the large database (bench.explain): a sequential
scan of a large table fails the row.
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

from bench import explain, login, scale, wrk
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
    p50: dict[int, list[float]] = field(default_factory=dict)
    errors: int = 0

    def add(self, size: int, result: wrk.WrkResult, per: int) -> None:
        done = result.requests // per  # a login is a GET and a POST
        cost = LOW_CONNECTIONS * result.seconds * 1000 / max(done, 1)
        self.rounds.setdefault(size, []).append(cost)
        self.p50.setdefault(size, []).append(result.p50_ms)
        self.errors += result.errors

    def median(self, size: int) -> float:
        return statistics.median(self.rounds[size])

    def describe(self, base: int, large: int) -> str:
        shown = ", ".join(
            f"{s:,}: " + "/".join(f"{c:.1f}" for c in self.rounds[s]) for s in (base, large)
        )
        return (
            f"interleaved base/large x {len(self.rounds[base])}, {LOW_CONNECTIONS} connections, "
            f"{seconds():g} s each; ms per request by round ({shown}); "
            f"ratio = median large ÷ median base"
        )


async def interleaved(
    databases: dict[int, str],
    switch: Callable[[str], Awaitable[None]],
    script: Callable[[], Awaitable[tuple[str, str]]],
    per: int = 1,
) -> Costs:
    """Each size in turn, `rounds()` times: switch the service to its database, check one
    answer and get the wrk (url, script), warm up, measure at LOW_CONNECTIONS."""
    costs = Costs()
    for _ in range(rounds()):
        for size, url in databases.items():
            await switch(url)
            target, lua = await script()
            await wrk.run(target, lua, warmup(), connections=LOW_CONNECTIONS)
            costs.add(size, await wrk.run(target, lua, seconds(), LOW_CONNECTIONS), per)
            print(f"  {size:,}: {costs.rounds[size][-1]:.1f} ms per request", flush=True)
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
    return setup.stack.issuer + path, wrk.alternating_script(path, "/login", body, headers)


def flat_row(case: str, costs: Costs, sizes: scale.Sizes, plans: explain.Plans) -> Row:
    large = costs.median(sizes.large)
    return Row(
        case,
        rps=LOW_CONNECTIONS * 1000 / large,
        p50_ms=statistics.median(costs.p50[sizes.large]),
        ratio=large / costs.median(sizes.base),
        target=Target(max_ratio=1.2),
        note=f"{costs.describe(sizes.base, sizes.large)}; {plans.describe(f'{sizes.large:,}')}",
        errors=costs.errors + len(plans.scans),
    )


def switcher(setup: Setup, service: str, attribute: str) -> Callable[[str], Awaitable[None]]:
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
        switch = switcher(setup, "eligibility", "plan_db")
        try:
            eligible = await interleaved(
                {sizes.base: base_plan, sizes.large: plan}, switch, lambda: inquiry_script(setup)
            )
            await switch(plan)
            found = await explain.captured(setup, "eligibility", lambda: inquiry_script(setup))
            eligible_plans = await explain.explain(plan, found)
        finally:
            await switch(base_plan)
        switch = switcher(setup, "identity", "identity_db")
        try:
            logins = await interleaved(
                {sizes.base: base_identity, sizes.large: users},
                switch,
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
