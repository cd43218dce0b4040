"""The plan's reference data, cached in process: plans and products, benefit terms and
cost-share limits (the X12 code tables, CARC and RARC, are constants in `x12`).

An eligibility answer needs the member's product, its benefits and its limits; they
change only when the catalog is seeded or `provider-data import benefits` runs, so a
process reads them once and keeps them for at most `reference_cache_seconds`
(PROVIDER_DATA_REFERENCE_CACHE_SECONDS, 60 by default). The bound is what a change
made by another process (the command line, another replica) waits for; in the
process that makes it, `invalidate()` (called by the seed and the CSV import) drops
every cache at once. Provider records, members and everything about a member are
never cached: they are read with the request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from provider_data.platform.models import Benefit, CostShareLimit, HealthPlan, Product

_generation = 0  # bumped by invalidate(): every cache reloads on its next use


def invalidate() -> None:
    """Forget the reference data in every cache of this process (after a catalog change)."""
    global _generation
    _generation += 1


@dataclass(frozen=True)
class ProductInfo:
    id: int
    code: str
    name: str
    plan_code: str
    plan_name: str


@dataclass(frozen=True)
class BenefitTerms:
    service_type_code: str
    network: str
    covered: bool
    copay: Decimal
    coinsurance_percent: int
    deductible_applies: bool
    visit_limit: int | None
    prior_auth_required: bool


@dataclass(frozen=True)
class LimitAmount:
    kind: str
    level: str
    network: str
    amount: Decimal


@dataclass(frozen=True)
class Catalog:
    """One consistent reading of the catalog."""

    products: dict[int, ProductInfo] = field(default_factory=dict)
    benefits: dict[int, list[BenefitTerms]] = field(default_factory=dict)
    limits: dict[int, list[LimitAmount]] = field(default_factory=dict)


async def load(session: AsyncSession) -> Catalog:
    catalog = Catalog()
    products = await session.execute(
        select(Product.id, Product.code, Product.name, HealthPlan.code, HealthPlan.name).join(
            HealthPlan, HealthPlan.id == Product.plan_id
        )
    )
    for pid, code, name, plan_code, plan_name in products:
        catalog.products[pid] = ProductInfo(pid, code, name, plan_code, plan_name)
    benefits = await session.execute(
        select(Benefit).order_by(Benefit.product_id, Benefit.service_type_code, Benefit.network)
    )
    for b in benefits.scalars():
        catalog.benefits.setdefault(b.product_id, []).append(
            BenefitTerms(
                b.service_type_code,
                b.network,
                b.covered,
                b.copay,
                b.coinsurance_percent,
                b.deductible_applies,
                b.visit_limit,
                b.prior_auth_required,
            )
        )
    limits = await session.execute(
        select(
            CostShareLimit.product_id,
            CostShareLimit.kind,
            CostShareLimit.level,
            CostShareLimit.network,
            CostShareLimit.amount,
        )
    )
    for pid, kind, level, network, amount in limits:
        catalog.limits.setdefault(pid, []).append(LimitAmount(kind, level, network, amount))
    return catalog


class ReferenceCache:
    """The catalog of one database, reloaded after `ttl` seconds or an `invalidate()`."""

    def __init__(self, ttl: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.clock = ttl, clock
        self._catalog: Catalog | None = None
        self._loaded_at = 0.0
        self._generation = -1
        self._lock = asyncio.Lock()

    def _fresh(self) -> Catalog | None:
        if self._generation != _generation or self.clock() - self._loaded_at >= self.ttl:
            return None
        return self._catalog

    async def catalog(self, session: AsyncSession) -> Catalog:
        if (catalog := self._fresh()) is not None:
            return catalog
        async with self._lock:  # one reload at a time; the others use its result
            if (catalog := self._fresh()) is not None:
                return catalog
            generation = _generation
            catalog = await load(session)
            self._catalog, self._loaded_at, self._generation = (
                catalog,
                self.clock(),
                generation,
            )
            return catalog
