"""The plan's own data: provider records, members, coverage, claims, access events."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

Money = Numeric(12, 2)
CLAIM_STATUSES = ("received", "pended", "paid", "denied")
NETWORK_STATUSES = ("in_network", "out_of_network")


def one_of(column: str, values: tuple[str, ...], name: str) -> CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({listed})", name=name)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {date: Date(), datetime: DateTime(timezone=True), Decimal: Money}


class ProviderRecord(Base):
    __tablename__ = "provider_records"
    __table_args__ = (
        one_of("network_status", NETWORK_STATUSES, "ck_provider_records_network_status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    npi: Mapped[str] = mapped_column(String(10), unique=True)
    tin: Mapped[str] = mapped_column(String(9), index=True)
    name: Mapped[str] = mapped_column(String(200))
    network_status: Mapped[str] = mapped_column(String(20), default="in_network")
    effective_from: Mapped[date] = mapped_column()
    effective_to: Mapped[date | None] = mapped_column()


class Member(Base):
    __tablename__ = "members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    member_id: Mapped[str] = mapped_column(String(20), unique=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date] = mapped_column()

    coverages: Mapped[list[Coverage]] = relationship(
        back_populates="member", order_by="Coverage.effective_date"
    )


class Coverage(Base):
    __tablename__ = "coverages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    plan_name: Mapped[str] = mapped_column(String(200))
    product: Mapped[str] = mapped_column(String(100))
    effective_date: Mapped[date] = mapped_column()
    termination_date: Mapped[date | None] = mapped_column()
    copay_office_visit: Mapped[Decimal] = mapped_column()
    deductible_individual: Mapped[Decimal] = mapped_column()
    deductible_met: Mapped[Decimal] = mapped_column()
    out_of_pocket_max: Mapped[Decimal] = mapped_column()
    out_of_pocket_met: Mapped[Decimal] = mapped_column()

    member: Mapped[Member] = relationship(back_populates="coverages")


class Claim(Base):
    __tablename__ = "claims"
    __table_args__ = (one_of("status", CLAIM_STATUSES, "ck_claims_status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    claim_number: Mapped[str] = mapped_column(String(30), unique=True)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="RESTRICT"), index=True
    )
    billing_tin: Mapped[str] = mapped_column(String(9), index=True)
    billing_npi: Mapped[str] = mapped_column(String(10))
    service_date: Mapped[date] = mapped_column(index=True)
    received_date: Mapped[date] = mapped_column()
    status: Mapped[str] = mapped_column(String(20), index=True)
    billed_amount: Mapped[Decimal] = mapped_column()
    allowed_amount: Mapped[Decimal] = mapped_column()
    paid_amount: Mapped[Decimal] = mapped_column()
    patient_responsibility: Mapped[Decimal] = mapped_column()
    denial_reason: Mapped[str | None] = mapped_column(Text)

    member: Mapped[Member] = relationship()


class AccessEvent(Base):
    """Every access to patient data, allowed or denied, written with the read (HIPAA)."""

    __tablename__ = "access_events"

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
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AccessChainHead(Base):
    """The one row that orders the access trail: writers serialize on it."""

    __tablename__ = "access_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))
