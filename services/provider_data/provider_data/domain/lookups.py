"""What claim processing looks up again and again, read once per request: provider
records, network status per product, the fee schedule, benefit terms and limits."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from provider_data.domain import adjudication as engine
from provider_data.platform.models import (
    Benefit,
    CostShareLimit,
    FeeSchedule,
    ProviderNetwork,
    ProviderRecord,
)


class Lookups:
    """Per-request reads of the plan's reference data (none of it changes with a claim)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._providers: dict[tuple[str, str], ProviderRecord | None] = {}
        self._networks: dict[tuple[int, int], str] = {}
        self._fees: dict[str, dict[str, FeeSchedule]] = {}
        self._terms: dict[tuple[int, str], dict[str, engine.Terms]] = {}
        self._limits: dict[tuple[int, str], dict[tuple[str, str], Decimal]] = {}

    async def provider(self, npi: str, tin: str) -> ProviderRecord | None:
        if (npi, tin) not in self._providers:
            self._providers[(npi, tin)] = await self.session.scalar(
                select(ProviderRecord).where(ProviderRecord.npi == npi, ProviderRecord.tin == tin)
            )
        return self._providers[(npi, tin)]

    async def network(self, provider: ProviderRecord, product_id: int) -> str:
        """The provider's status for this product; its record's default when none is set."""
        key = (provider.id, product_id)
        if key not in self._networks:
            status = await self.session.scalar(
                select(ProviderNetwork.status).where(
                    ProviderNetwork.provider_id == provider.id,
                    ProviderNetwork.product_id == product_id,
                )
            )
            self._networks[key] = status or provider.network_status
        return self._networks[key]

    async def fees(self, network: str) -> dict[str, FeeSchedule]:
        if network not in self._fees:
            rows = await self.session.scalars(
                select(FeeSchedule).where(FeeSchedule.network == network)
            )
            self._fees[network] = {f.procedure_code: f for f in rows}
        return self._fees[network]

    async def terms(self, product_id: int, network: str) -> dict[str, engine.Terms]:
        key = (product_id, network)
        if key not in self._terms:
            rows = await self.session.scalars(
                select(Benefit).where(Benefit.product_id == product_id, Benefit.network == network)
            )
            self._terms[key] = {
                b.service_type_code: engine.Terms(
                    covered=b.covered,
                    copay=b.copay,
                    coinsurance_percent=b.coinsurance_percent,
                    deductible_applies=b.deductible_applies,
                    visit_limit=b.visit_limit,
                    prior_auth_required=b.prior_auth_required,
                )
                for b in rows
            }
        return self._terms[key]

    async def limits(self, product_id: int, network: str) -> dict[tuple[str, str], Decimal]:
        """(kind, level) -> amount: the product's deductibles and out-of-pocket maximums."""
        key = (product_id, network)
        if key not in self._limits:
            rows = await self.session.scalars(
                select(CostShareLimit).where(
                    CostShareLimit.product_id == product_id, CostShareLimit.network == network
                )
            )
            self._limits[key] = {(c.kind, c.level): c.amount for c in rows}
        return self._limits[key]
