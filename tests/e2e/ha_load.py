"""A steady load on the replicated stack (deploy.ha) for tests/e2e/test_ha.py: loops of
a client's everyday calls, each attempt recorded with when it started and ended, what
it got, and which replicas answered (nginx's X-Upstream headers).

A failed attempt is a transport error, a 5xx or an answer the call does not expect.
Claim submissions (with an Idempotency-Key) and refreshes are retried by the client
until they succeed, as a client of those APIs does: a repeat of the key replays the
first answer, a refresh token presented again within the grace window is reissued.
409 `idempotency-key-in-use` asks the client to retry and is recorded as such.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx

from deploy.ha import HaStack
from provider_data.documents import npi

INQUIRY = {"member_id": "M1000101", "date_of_birth": "1985-04-12"}
KINDS = ("claims.list", "eligibility", "claim.submit", "userinfo", "refresh")
RETRIES = 30
_charges = itertools.count(1)  # every claim its own total: never a `duplicate_claim`


def answering(stack: HaStack, response: httpx.Response) -> list[str]:
    """The replicas that answered, from every X-Upstream header (the gateway passes on
    the one of its own upstream): the last address of each is the one that answered."""
    replicas = []
    for value in response.headers.get_list("x-upstream"):
        _, _, addresses = value.partition("=")
        last = addresses.replace(" : ", ", ").split(", ")[-1]
        if last.startswith("127.0.0.1:"):
            replicas.append(stack.replica_at(last))
    return replicas


def claim_body() -> dict[str, Any]:
    charge = f"{100 + next(_charges)}.00"
    return {
        "patient_control_number": f"HA-{uuid.uuid4().hex[:12]}",
        "billing_provider": {"npi": npi.make("123456789"), "tin": "12-3456789"},
        "rendering_provider_npi": npi.make("123456789"),
        "member": {"member_id": "*M1000101"},
        "diagnoses": ["J06.9"],
        "total_charge": charge,
        "lines": [{"procedure_code": "99213", "charge": charge, "service_date": "2026-03-02"}],
    }


@dataclass
class Attempt:
    kind: str
    started: float
    ended: float = 0.0
    outcome: str = "pending"  # ok, failed, retry-later
    detail: str = ""
    replicas: list[str] = field(default_factory=list)


@dataclass
class Family:
    """One client's tokens (its own refresh token family)."""

    access: str
    refresh: str


@dataclass
class Load:
    stack: HaStack
    client: httpx.AsyncClient
    client_auth: tuple[str, str]
    attempts: list[Attempt] = field(default_factory=list)
    claims: dict[str, str] = field(default_factory=dict)  # patient control no. -> claim no.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    began: float = 0.0

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    @property
    def in_flight(self) -> int:
        return sum(1 for a in self.attempts if a.outcome == "pending")

    def done_since(self, moment: float) -> list[Attempt]:
        return [a for a in self.attempts if a.outcome != "pending" and a.started > moment]

    def summary(self, killed_at: float, kills_done: float, in_flight: int) -> str:
        """What the load saw, for the test's output."""
        counts = Counter((a.kind, a.outcome) for a in self.attempts)
        failed = [a for a in self.attempts if a.outcome == "failed"]
        ended = max(a.ended for a in self.attempts)
        lines = [
            f"{ended - self.began:.1f} s of load, the kill after {killed_at - self.began:.1f} s; "
            f"{len(self.attempts)} attempts, {in_flight} in flight at the kill "
            f"({kills_done - killed_at:.3f} s to kill), {len(failed)} failed",
            *(f"  {kind} {outcome}: {n}" for (kind, outcome), n in sorted(counts.items())),
            *(f"  failed {a.kind}: {a.detail[:160]}" for a in failed),
        ]
        return "\n".join(lines)

    async def until(self, condition: Callable[[], bool], within: float = 60) -> None:
        deadline = self.now() + within
        while not condition():
            assert self.now() < deadline, f"the load did not get there in {within} s"
            await asyncio.sleep(0.05)

    async def loop(self, number: int, family: Family) -> None:
        for step in itertools.count(number):
            if self.stopping.is_set():
                return
            await self.call(KINDS[step % len(KINDS)], family)

    async def call(self, kind: str, family: Family) -> None:
        bearer = {"Authorization": f"Bearer {family.access}"}
        gateway, issuer = self.stack.url("gateway"), self.stack.issuer
        if kind == "claims.list":
            send = partial(self.client.get, gateway + "/claims/v1/claims?limit=5", headers=bearer)
            await self._attempt(kind, send, expect(200))
        elif kind == "eligibility":
            url = gateway + "/eligibility/v1/inquiries"
            await self._attempt(kind, partial(self.client.post, url, json=INQUIRY, headers=bearer))
        elif kind == "userinfo":
            await self._attempt(
                kind, partial(self.client.get, issuer + "/userinfo", headers=bearer)
            )
        elif kind == "claim.submit":
            await self._submit(claim_body(), {**bearer, "Idempotency-Key": str(uuid.uuid4())})
        else:
            await self._refresh(family)

    async def _submit(self, body: dict[str, Any], headers: dict[str, str]) -> None:
        url = self.stack.url("gateway") + "/claims/v1/claims"

        def judge(response: httpx.Response) -> str:
            if response.status_code == 409 and "idempotency-key-in-use" in response.text:
                return "retry-later"
            if response.status_code != 201:
                return "failed"
            self.claims[body["patient_control_number"]] = response.json()["claim_number"]
            return "ok"

        send = partial(self.client.post, url, json=body, headers=headers)
        await self._until_ok("claim.submit", send, judge)

    async def _refresh(self, family: Family) -> None:
        """A refresh, retried with the same refresh token until it succeeds."""

        def judge(response: httpx.Response) -> str:
            if response.status_code != 200:
                return "failed"
            family.access = response.json()["access_token"]
            family.refresh = response.json()["refresh_token"]
            return "ok"

        send = partial(
            self.client.post,
            self.stack.issuer + "/token",
            data={"grant_type": "refresh_token", "refresh_token": family.refresh},
            auth=self.client_auth,
        )
        await self._until_ok("refresh", send, judge)

    async def _attempt(
        self,
        kind: str,
        send: Callable[[], Awaitable[httpx.Response]],
        judge: Callable[[httpx.Response], str] | None = None,
    ) -> Attempt:
        attempt = Attempt(kind, self.now())
        self.attempts.append(attempt)
        try:
            response = await send()
        except httpx.TransportError as error:
            attempt.outcome, attempt.detail = "failed", repr(error)
        else:
            attempt.replicas = answering(self.stack, response)
            attempt.outcome = (judge or expect(200))(response)
            attempt.detail = f"{response.status_code} {response.text[:300]}"
        attempt.ended = self.now()
        return attempt

    async def _until_ok(
        self,
        kind: str,
        send: Callable[[], Awaitable[httpx.Response]],
        judge: Callable[[httpx.Response], str],
    ) -> None:
        for _ in range(RETRIES):
            if (await self._attempt(kind, send, judge)).outcome == "ok":
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"{kind} never succeeded: {self.attempts[-1]}")


def expect(status: int) -> Callable[[httpx.Response], str]:
    return lambda response: "ok" if response.status_code == status else "failed"
