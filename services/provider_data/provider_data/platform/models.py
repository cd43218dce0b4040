"""The plan's own data: plans and products with benefits, provider records, members
with coverage and accumulators, claims with lines and adjustments, access events."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

Money = Numeric(12, 2)
ZERO = Decimal("0.00")
CLAIM_STATUSES = ("received", "pended", "paid", "denied", "partially_paid")
NETWORK_STATUSES = ("in_network", "out_of_network")
RELATIONSHIPS = ("subscriber", "spouse", "child", "other_dependent")
LEVELS = ("individual", "family")
LIMIT_KINDS = ("deductible", "out_of_pocket")
ADJUSTMENT_GROUPS = ("CO", "PR", "OA", "PI")


def one_of(column: str, values: tuple[str, ...], name: str) -> CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({listed})", name=name)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {date: Date(), datetime: DateTime(timezone=True), Decimal: Money}


class HealthPlan(Base):
    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))


class Product(Base):
    """A benefit package sold under a plan (e.g. a PPO), with its cost-share limits."""

    __tablename__ = "products"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(100))

    plan: Mapped[HealthPlan] = relationship()
    benefits: Mapped[list[Benefit]] = relationship(order_by="Benefit.service_type_code")
    limits: Mapped[list[CostShareLimit]] = relationship()


class Benefit(Base):
    """What a product pays for one X12 service type, in or out of network."""

    __tablename__ = "benefits"
    __table_args__ = (
        UniqueConstraint("product_id", "service_type_code", "network", name="uq_benefits_key"),
        one_of("network", NETWORK_STATUSES, "ck_benefits_network"),
        CheckConstraint("coinsurance_percent BETWEEN 0 AND 100", name="ck_benefits_coinsurance"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    service_type_code: Mapped[str] = mapped_column(String(2))
    network: Mapped[str] = mapped_column(String(20))
    covered: Mapped[bool] = mapped_column(default=True)
    copay: Mapped[Decimal] = mapped_column(default=ZERO)
    coinsurance_percent: Mapped[int] = mapped_column(Integer, default=0)
    deductible_applies: Mapped[bool] = mapped_column(default=True)
    visit_limit: Mapped[int | None] = mapped_column(Integer)
    prior_auth_required: Mapped[bool] = mapped_column(default=False)


class CostShareLimit(Base):
    """A product's deductible or out-of-pocket maximum, per level and network."""

    __tablename__ = "cost_share_limits"
    __table_args__ = (
        UniqueConstraint("product_id", "kind", "level", "network", name="uq_cost_share_limits_key"),
        one_of("network", NETWORK_STATUSES, "ck_cost_share_limits_network"),
        one_of("level", LEVELS, "ck_cost_share_limits_level"),
        one_of("kind", LIMIT_KINDS, "ck_cost_share_limits_kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    level: Mapped[str] = mapped_column(String(20))
    network: Mapped[str] = mapped_column(String(20))
    amount: Mapped[Decimal] = mapped_column()


class ProviderRecord(Base):
    __tablename__ = "provider_records"
    __table_args__ = (
        one_of("network_status", NETWORK_STATUSES, "ck_provider_records_network_status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    npi: Mapped[str] = mapped_column(String(10), unique=True)
    tin: Mapped[str] = mapped_column(String(9), index=True)
    name: Mapped[str] = mapped_column(String(200))
    taxonomy: Mapped[str | None] = mapped_column(String(10))
    network_status: Mapped[str] = mapped_column(String(20), default="in_network")
    effective_from: Mapped[date] = mapped_column()
    effective_to: Mapped[date | None] = mapped_column()

    networks: Mapped[list[ProviderNetwork]] = relationship()
    locations: Mapped[list[ProviderLocation]] = relationship(order_by="ProviderLocation.id")


class ProviderNetwork(Base):
    """A provider's network status for one product (overrides the record's default)."""

    __tablename__ = "provider_networks"
    __table_args__ = (
        UniqueConstraint("provider_id", "product_id", name="uq_provider_networks_key"),
        one_of("status", NETWORK_STATUSES, "ck_provider_networks_status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider_records.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20))


class ProviderLocation(Base):
    __tablename__ = "provider_locations"
    __table_args__ = (
        UniqueConstraint("provider_id", "address_line", "postal_code", name="uq_locations_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider_records.id", ondelete="CASCADE"))
    address_line: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(2))
    postal_code: Mapped[str] = mapped_column(String(10))


class Member(Base):
    """A covered person: a subscriber ID followed by a two-digit suffix (01, 02, ...)."""

    __tablename__ = "members"
    __table_args__ = (one_of("relation", RELATIONSHIPS, "ck_members_relation"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    member_id: Mapped[str] = mapped_column(String(20), unique=True)
    subscriber_id: Mapped[str] = mapped_column(String(18), index=True)
    relation: Mapped[str] = mapped_column(String(20), default="subscriber")
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date] = mapped_column()
    pcp_id: Mapped[int | None] = mapped_column(
        ForeignKey("provider_records.id", ondelete="SET NULL")
    )

    coverages: Mapped[list[Coverage]] = relationship(
        back_populates="member", order_by="Coverage.effective_date"
    )
    pcp: Mapped[ProviderRecord | None] = relationship()


class Coverage(Base):
    __tablename__ = "coverages"
    __table_args__ = (
        UniqueConstraint("member_id", "product_id", "effective_date", name="uq_coverages_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="RESTRICT"))
    effective_date: Mapped[date] = mapped_column()
    termination_date: Mapped[date | None] = mapped_column()

    member: Mapped[Member] = relationship(back_populates="coverages")
    product: Mapped[Product] = relationship()


class Accumulator(Base):
    """Amounts met in a plan year: per member (individual) or per subscriber (family)."""

    __tablename__ = "accumulators"
    __table_args__ = (
        UniqueConstraint(
            "holder", "level", "plan_year", "network", "kind", name="uq_accumulators_key"
        ),
        one_of("network", NETWORK_STATUSES, "ck_accumulators_network"),
        one_of("level", LEVELS, "ck_accumulators_level"),
        one_of("kind", LIMIT_KINDS, "ck_accumulators_kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    holder: Mapped[str] = mapped_column(String(20))
    level: Mapped[str] = mapped_column(String(20))
    plan_year: Mapped[int] = mapped_column(Integer)
    network: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20))
    met: Mapped[Decimal] = mapped_column(default=ZERO)


class VisitUsage(Base):
    __tablename__ = "visit_usage"
    __table_args__ = (
        UniqueConstraint("member_id", "plan_year", "service_type_code", name="uq_visit_usage_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    plan_year: Mapped[int] = mapped_column(Integer)
    service_type_code: Mapped[str] = mapped_column(String(2))
    used: Mapped[int] = mapped_column(Integer, default=0)


class FeeSchedule(Base):
    """The allowed amount per unit of a procedure, and the service type it falls under."""

    __tablename__ = "fee_schedule"
    __table_args__ = (
        UniqueConstraint("procedure_code", "network", name="uq_fee_schedule_key"),
        one_of("network", NETWORK_STATUSES, "ck_fee_schedule_network"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    procedure_code: Mapped[str] = mapped_column(String(5))
    network: Mapped[str] = mapped_column(String(20))
    service_type_code: Mapped[str] = mapped_column(String(2))
    description: Mapped[str] = mapped_column(String(200))
    allowed_per_unit: Mapped[Decimal] = mapped_column()


class Claim(Base):
    __tablename__ = "claims"
    __table_args__ = (
        one_of("status", CLAIM_STATUSES, "ck_claims_status"),
        Index("ix_claims_search", "billing_tin", "service_date", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    claim_number: Mapped[str] = mapped_column(String(30), unique=True)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="RESTRICT"), index=True
    )
    billing_tin: Mapped[str] = mapped_column(String(9), index=True)
    billing_npi: Mapped[str] = mapped_column(String(10))
    rendering_npi: Mapped[str | None] = mapped_column(String(10))
    patient_control_number: Mapped[str | None] = mapped_column(String(38))
    diagnoses: Mapped[str] = mapped_column(String(200), default="")
    place_of_service: Mapped[str | None] = mapped_column(String(2))
    prior_authorization: Mapped[str | None] = mapped_column(String(30))
    network: Mapped[str | None] = mapped_column(String(20))
    service_date: Mapped[date] = mapped_column(index=True)
    received_date: Mapped[date] = mapped_column()
    adjudicated_date: Mapped[date | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(20), index=True)
    billed_amount: Mapped[Decimal] = mapped_column()
    allowed_amount: Mapped[Decimal] = mapped_column()
    paid_amount: Mapped[Decimal] = mapped_column()
    patient_responsibility: Mapped[Decimal] = mapped_column()
    denial_reason: Mapped[str | None] = mapped_column(Text)

    member: Mapped[Member] = relationship()
    lines: Mapped[list[ClaimLine]] = relationship(order_by="ClaimLine.line_number")
    history: Mapped[list[ClaimStatusEvent]] = relationship(order_by="ClaimStatusEvent.id")


class ClaimLine(Base):
    __tablename__ = "claim_lines"
    __table_args__ = (UniqueConstraint("claim_id", "line_number", name="uq_claim_lines_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"))
    line_number: Mapped[int] = mapped_column(Integer)
    procedure_code: Mapped[str] = mapped_column(String(5))
    modifiers: Mapped[str] = mapped_column(String(20), default="")
    units: Mapped[int] = mapped_column(Integer)
    charge: Mapped[Decimal] = mapped_column()
    service_date: Mapped[date] = mapped_column()
    service_type_code: Mapped[str | None] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(20))
    allowed: Mapped[Decimal] = mapped_column(default=ZERO)
    deductible: Mapped[Decimal] = mapped_column(default=ZERO)
    copay: Mapped[Decimal] = mapped_column(default=ZERO)
    coinsurance: Mapped[Decimal] = mapped_column(default=ZERO)
    paid: Mapped[Decimal] = mapped_column(default=ZERO)
    remarks: Mapped[str] = mapped_column(String(60), default="")

    adjustments: Mapped[list[ClaimAdjustment]] = relationship(
        order_by="ClaimAdjustment.id", cascade="all, delete-orphan"
    )


class ClaimAdjustment(Base):
    """A CARC adjustment on a line (group code CO/PR/OA/PI, reason code, amount)."""

    __tablename__ = "claim_adjustments"
    __table_args__ = (one_of("group_code", ADJUSTMENT_GROUPS, "ck_claim_adjustments_group"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    line_id: Mapped[int] = mapped_column(
        ForeignKey("claim_lines.id", ondelete="CASCADE"), index=True
    )
    group_code: Mapped[str] = mapped_column(String(2))
    reason_code: Mapped[str] = mapped_column(String(5))
    amount: Mapped[Decimal] = mapped_column()


class ClaimStatusEvent(Base):
    __tablename__ = "claim_status_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    on: Mapped[date] = mapped_column()
    note: Mapped[str] = mapped_column(String(200), default="")


class IdempotentRequest(Base):
    """A submission's stored answer, replayed when its Idempotency-Key comes again."""

    __tablename__ = "idempotent_requests"
    __table_args__ = (
        UniqueConstraint("client_id", "subject", "key", name="uq_idempotent_requests_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AccessEvent(Base):
    """Every access to patient data, allowed or denied, written with the read (HIPAA);
    seq, prev_hash and hash stay empty until the sealer chains it (policy.sealing)."""

    __tablename__ = "access_events"
    __table_args__ = (
        Index(
            "ix_access_events_unsealed",
            "id",
            postgresql_where=text("seq IS NULL"),
            sqlite_where=text("seq IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    subject: Mapped[str] = mapped_column(String(100))
    client_id: Mapped[str] = mapped_column(String(100))
    org_id: Mapped[str | None] = mapped_column(String(36))
    action: Mapped[str] = mapped_column(String(40))
    member_id: Mapped[str | None] = mapped_column(String(20))
    tax_id: Mapped[str | None] = mapped_column(String(9))
    allowed: Mapped[bool] = mapped_column()
    reason: Mapped[str] = mapped_column(String(60))
    request_id: Mapped[str | None] = mapped_column(String(64))
    seq: Mapped[int | None] = mapped_column(Integer, unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


class AccessChainHead(Base):
    """The access trail's sealed head (last seq and hash): only the sealer moves it."""

    __tablename__ = "access_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))


class FailedMatchCounter(Base):
    """Failed member / date-of-birth matches in the current window, per member and per
    client (`provider_data.domain.guessing`); the row is locked while an inquiry is decided."""

    __tablename__ = "failed_match_counters"
    __table_args__ = (one_of("scope", ("member", "client"), "ck_failed_match_counters_scope"),)

    scope: Mapped[str] = mapped_column(String(8), primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    window_started_at: Mapped[datetime] = mapped_column()
    failures: Mapped[int] = mapped_column(Integer, default=0)
