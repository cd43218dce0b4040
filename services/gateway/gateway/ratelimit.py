"""Rate limits at the edge, per source address and per client, with `limits`.

Two counters, each a moving window over the `limits` rate strings in settings:
the source address is counted before the token is looked at (so a flood of bad
tokens is cut off too), the client (`client_id`, else `azp`, of a verified token)
after. Counters live in process memory by default; with a Redis storage URL
every replica counts in the same keys (under `rate_limit_key_prefix`), so a
limit holds for the plan as a whole. A refusal is a 429 problem with
`Retry-After`: the seconds until the window has room again.

A request that carries several inquiries costs one per inquiry: a batch of N
eligibility inquiries (`POST /eligibility/v1/inquiries/batch`, at most 100) counts
N against its client (`cost_of`, read from the body the gateway already buffers),
so batching does not multiply what a client may ask. Failed member matches are
counted again, per member and per client, by the eligibility service itself, in
its database (`provider_data.domain.guessing`).

If Redis cannot be reached (refused, or silent past `GATEWAY_REDIS_TIMEOUT`) the
counters fall back to this process's memory until Redis answers again, as identity's
do (`policy.ratelimit_fallback`; docs/operations.md, "When Redis is down"): the
limits keep holding, per process, and the APIs keep answering.
"""

from __future__ import annotations

import logging
from typing import Literal

import orjson
from limits import RateLimitItem, parse_many
from limits.aio.storage import Storage
from starlette.requests import Request
from starlette.responses import Response

from gateway.problems import problem_response
from gateway.settings import Settings
from policy import Principal, metrics
from policy.degraded import Dependency
from policy.ratelimit_fallback import Limiter

log = logging.getLogger(__name__)

Scope = Literal["address", "client"]
RATE_LIMITED = "rate-limited"
# POST paths whose JSON body is a list of items, each costing one request.
BATCHES = {"/eligibility/v1/inquiries/batch": "inquiries"}


class RateLimits:
    """The edge's two limits over one storage; `wait` counts a hit and says how long to wait."""

    def __init__(self, limiter: Limiter, per_address: str, per_client: str) -> None:
        self.limiter = limiter
        self.items: dict[Scope, list[RateLimitItem]] = {
            "address": parse_many(per_address) if per_address else [],
            "client": parse_many(per_client) if per_client else [],
        }

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimits:
        limiter = Limiter(
            settings.rate_limit_storage_url,
            key_prefix=settings.rate_limit_key_prefix,
            timeout=settings.redis_timeout,
            retry_interval=settings.redis_retry_interval,
        )
        return cls(limiter, settings.rate_limit_per_address, settings.rate_limit_per_client)

    @property
    def storage(self) -> Storage:
        """Where the counters live while the store answers (memory, or Redis)."""
        return self.limiter.storage

    @property
    def health(self) -> Dependency | None:
        """The Redis store's state (None for counters in memory)."""
        return self.limiter.health

    async def wait(self, scope: Scope, key: str, cost: int = 1) -> int | None:
        """Count a request of `cost` hits; None when within every limit, else seconds to wait."""
        waits: list[int] = []
        for item in self.items[scope]:
            if (wait := await self.limiter.retry_after(item, scope, key, cost=cost)) is not None:
                waits.append(wait)
        if not waits:
            return None
        log.info(
            "rate_limit.exceeded",
            extra={"event": "rate_limit.exceeded", "scope": scope, "key": key, "wait": max(waits)},
        )
        return max(waits)

    async def reset(self) -> None:
        """Forget every counter under this storage (and, in Redis, this key prefix)."""
        await self.limiter.reset()

    async def aclose(self) -> None:
        """Stop probing and close the Redis connection pool, if the counters live in Redis."""
        await self.limiter.aclose()


def source_address(request: Request) -> str:
    """The client's address: the peer's, or as a trusted proxy said (GATEWAY_TRUSTED_PROXIES)."""
    return request.client.host if request.client else "unknown"


def cost_of(request: Request, body: bytes) -> int:
    """How many requests this one counts as: the items of a batch, else one."""
    field = BATCHES.get(request.url.path) if request.method == "POST" else None
    if field is None:
        return 1
    try:
        items = orjson.loads(body).get(field)
    except (ValueError, AttributeError):
        return 1  # not a batch the upstream will answer (it says why, with a 422)
    return max(1, len(items)) if isinstance(items, list) else 1


def client_of(principal: Principal) -> str:
    azp = principal.claims.get("azp")
    return principal.client_id or (str(azp) if azp else principal.subject)


async def refusal(
    request: Request, request_id: str, principal: Principal | None = None, cost: int = 1
) -> Response | None:
    """A 429 problem when this request goes over a limit, else None.

    Without a principal the source address is counted; with one, its client
    (`cost` times: the items of a batch).
    """
    limits: RateLimits = request.app.state.rate_limits
    if principal is None:
        scope: Scope = "address"
        wait = await limits.wait(scope, source_address(request))
    else:
        scope = "client"
        wait = await limits.wait(scope, client_of(principal), cost)
    if wait is None:
        return None
    metrics.RATE_LIMITED("gateway", scope).inc()
    whom = "this address" if scope == "address" else "this client"
    return problem_response(
        429,
        "Too many requests",
        f"The plan's rate limit for {whom} was reached. Retry in {wait} s.",
        RATE_LIMITED,
        request_id,
        **{"Retry-After": str(wait)},
    )
