"""The demo plan's catalog: Cascade Health Plan's products, benefits, limits and fee schedule."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from provider_data.platform.models import Benefit, CostShareLimit, FeeSchedule, HealthPlan, Product
from provider_data.reads import reference

D = Decimal
# service type: (copay, coinsurance %, deductible applies, visit limit, prior auth)
BenefitRow = tuple[str, str, Decimal, int, bool, int | None, bool]
PPO: list[BenefitRow] = [
    ("30", "in_network", D("0"), 20, True, None, False),
    ("98", "in_network", D("25"), 0, False, None, False),
    ("47", "in_network", D("0"), 20, True, None, True),
    ("86", "in_network", D("250"), 0, False, None, False),
    ("UC", "in_network", D("75"), 0, False, None, False),
    ("PT", "in_network", D("40"), 0, False, 20, False),
    ("MH", "in_network", D("25"), 0, False, None, False),
    ("4", "in_network", D("0"), 20, True, None, False),
    ("5", "in_network", D("0"), 20, True, None, False),
    ("30", "out_of_network", D("0"), 40, True, None, False),
    ("98", "out_of_network", D("0"), 40, True, None, False),
    ("47", "out_of_network", D("0"), 40, True, None, True),
    ("86", "out_of_network", D("250"), 0, False, None, False),
    ("UC", "out_of_network", D("0"), 40, True, None, False),
    ("PT", "out_of_network", D("0"), 40, True, 20, False),
    ("4", "out_of_network", D("0"), 40, True, None, False),
    ("5", "out_of_network", D("0"), 40, True, None, False),
]
HMO: list[BenefitRow] = [
    ("30", "in_network", D("0"), 10, True, None, False),
    ("98", "in_network", D("20"), 0, False, None, False),
    ("47", "in_network", D("0"), 10, True, None, True),
    ("86", "in_network", D("200"), 0, False, None, False),
    ("86", "out_of_network", D("200"), 0, False, None, False),
    ("UC", "in_network", D("50"), 0, False, None, False),
    ("PT", "in_network", D("30"), 0, False, 30, False),
    ("MH", "in_network", D("20"), 0, False, None, False),
    ("4", "in_network", D("0"), 10, True, None, False),
    ("5", "in_network", D("0"), 10, True, None, False),
]
# (kind, level, network, amount)
PPO_LIMITS = [
    ("deductible", "individual", "in_network", D("1500")),
    ("deductible", "family", "in_network", D("3000")),
    ("deductible", "individual", "out_of_network", D("3000")),
    ("deductible", "family", "out_of_network", D("6000")),
    ("out_of_pocket", "individual", "in_network", D("6000")),
    ("out_of_pocket", "family", "in_network", D("12000")),
    ("out_of_pocket", "individual", "out_of_network", D("12000")),
    ("out_of_pocket", "family", "out_of_network", D("24000")),
]
HMO_LIMITS = [
    ("deductible", "individual", "in_network", D("500")),
    ("deductible", "family", "in_network", D("1000")),
    ("out_of_pocket", "individual", "in_network", D("4000")),
    ("out_of_pocket", "family", "in_network", D("8000")),
]
PRODUCTS = [
    ("CHP-PPO", "Cascade Choice PPO", PPO, PPO_LIMITS),
    ("CHP-HMO", "Cascade Select HMO", HMO, HMO_LIMITS),
]
# procedure: (service type, description, in-network allowed per unit)
FEES: dict[str, tuple[str, str, Decimal]] = {
    "99203": ("98", "Office visit, new patient, 30 minutes", D("115.00")),
    "99213": ("98", "Office visit, established patient, 20 minutes", D("92.00")),
    "99214": ("98", "Office visit, established patient, 30 minutes", D("135.00")),
    "99283": ("86", "Emergency department visit, moderate", D("210.00")),
    "S9083": ("UC", "Urgent care center, global fee", D("120.00")),
    "97110": ("PT", "Therapeutic exercise, each 15 minutes", D("32.00")),
    "90834": ("MH", "Psychotherapy, 45 minutes", D("98.00")),
    "71046": ("4", "Chest X-ray, 2 views", D("38.00")),
    "80053": ("5", "Comprehensive metabolic panel", D("14.00")),
    "85025": ("5", "Complete blood count with differential", D("9.00")),
    "29881": ("47", "Knee arthroscopy with meniscectomy", D("1150.00")),
}
OUT_OF_NETWORK_FACTOR = D("0.80")


async def seed_catalog(session: AsyncSession, plan_name: str) -> dict[str, Product]:
    """Create the plan, its products and the fee schedule; the products by code."""
    plan = HealthPlan(code="CHP", name=plan_name)
    session.add(plan)
    products: dict[str, Product] = {}
    for code, name, benefits, limits in PRODUCTS:
        product = Product(code=code, plan=plan, name=name)
        product.benefits = [
            Benefit(
                service_type_code=stc,
                network=network,
                copay=copay,
                coinsurance_percent=coins,
                deductible_applies=ded,
                visit_limit=limit,
                prior_auth_required=auth,
            )
            for stc, network, copay, coins, ded, limit, auth in benefits
        ]
        product.limits = [
            CostShareLimit(kind=k, level=lv, network=n, amount=a) for k, lv, n, a in limits
        ]
        session.add(product)
        products[code] = product
    for procedure, (stc, description, fee) in FEES.items():
        for network, amount in (
            ("in_network", fee),
            ("out_of_network", fee * OUT_OF_NETWORK_FACTOR),
        ):
            session.add(
                FeeSchedule(
                    procedure_code=procedure,
                    network=network,
                    service_type_code=stc,
                    description=description,
                    allowed_per_unit=amount.quantize(D("0.01")),
                )
            )
    await session.flush()
    reference.invalidate()
    return products


async def has_catalog(session: AsyncSession) -> bool:
    return await session.scalar(select(HealthPlan.id).limit(1)) is not None
