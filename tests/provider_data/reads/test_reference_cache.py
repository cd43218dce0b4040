"""The reference-data cache: a catalog change made by another process (a replica, the
command line) is read here once `reference_cache_seconds` have passed, not before and
not later; a clock the test moves stands in for the time."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Update, select, update

from provider_data.platform.models import Benefit, Product
from provider_data.reads.reference import Catalog, ReferenceCache
from tests.provider_data.conftest import Plan


def office_copay_set_to(copay: str) -> Update:
    product = select(Product.id).where(Product.code == "CHP-PPO").scalar_subquery()
    return (
        update(Benefit)
        .where(
            Benefit.service_type_code == "98",
            Benefit.network == "in_network",
            Benefit.product_id == product,
        )
        .values(copay=Decimal(copay))
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def office_copay(catalog: Catalog) -> Decimal:
    (product,) = [p.id for p in catalog.products.values() if p.code == "CHP-PPO"]
    return next(
        b.copay
        for b in catalog.benefits[product]
        if b.service_type_code == "98" and b.network == "in_network"
    )


async def test_a_change_elsewhere_is_read_at_the_bound(plan: Plan) -> None:
    clock = Clock()
    cache = ReferenceCache(60.0, clock=clock)
    async with plan.sessions() as session:
        assert office_copay(await cache.catalog(session)) == Decimal("25.00")
    async with plan.sessions() as other_process:
        await other_process.execute(office_copay_set_to("30.00"))
        await other_process.commit()
    try:
        async with plan.sessions() as session:
            clock.now = 1059.0
            assert office_copay(await cache.catalog(session)) == Decimal("25.00")  # cached
            clock.now = 1060.0
            assert office_copay(await cache.catalog(session)) == Decimal("30.00")
    finally:
        async with plan.sessions() as other_process:
            await other_process.execute(office_copay_set_to("25.00"))
            await other_process.commit()
