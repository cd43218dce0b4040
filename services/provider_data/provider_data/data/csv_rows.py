"""Validating one CSV row of the plan's data: each kind's columns and their rules.

A row parser returns the values to store or raises RowError with every reason the
row is refused, each naming the column and what to fix.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from provider_data.documents import identifiers, npi
from provider_data.documents.x12 import SERVICE_TYPES
from provider_data.platform.models import CLAIM_STATUSES, NETWORK_STATUSES, RELATIONSHIPS
from provider_data.reads.plandata import MEMBER_ID, normalize_member_id

TAXONOMY = re.compile(r"^[0-9]{3}[0-9A-Z]{6}X$")
SUFFIX_RELATION = {"01": "subscriber", "02": "spouse"}


class RowError(Exception):
    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


class Row:
    """Reads typed values out of a CSV row, collecting every problem."""

    def __init__(self, raw: Mapping[str, str | None]) -> None:
        self.raw = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
        self.reasons: list[str] = []

    def text(self, name: str, limit: int, required: bool = True) -> str | None:
        value = self.raw.get(name, "")
        if not value:
            if required:
                self.reasons.append(f"{name}: required")
            return None
        if len(value) > limit:
            self.reasons.append(f"{name}: longer than {limit} characters")
        return value

    def day(self, name: str, required: bool = True) -> date | None:
        value = self.text(name, 10, required)
        if value is None:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.reasons.append(f"{name}: {value!r} is not a date (YYYY-MM-DD)")
            return None

    def money(self, name: str, default: str | None = None) -> Decimal | None:
        value = self.raw.get(name) or default
        if value is None:
            self.reasons.append(f"{name}: required")
            return None
        try:
            amount = Decimal(value)
        except InvalidOperation:
            self.reasons.append(f"{name}: {value!r} is not an amount")
            return None
        if amount < 0 or amount != amount.quantize(Decimal("0.01")):
            self.reasons.append(f"{name}: {value} must be positive with at most two decimals")
        return amount

    def number(self, name: str, low: int, high: int, required: bool = True) -> int | None:
        value = self.text(name, 9, required)
        if value is None:
            return None
        if not identifiers.ascii_digits(value) or not low <= int(value) <= high:
            self.reasons.append(f"{name}: {value!r} is not a whole number from {low} to {high}")
            return None
        return int(value)

    def flag(self, name: str, default: bool) -> bool:
        value = self.raw.get(name, "").lower()
        if value in ("", "y", "yes", "true", "1", "n", "no", "false", "0"):
            return default if not value else value in ("y", "yes", "true", "1")
        self.reasons.append(f"{name}: {value!r} is not yes or no")
        return default

    def choice(self, name: str, allowed: tuple[str, ...], default: str | None = None) -> str:
        value = self.raw.get(name) or default or ""
        if value not in allowed:
            self.reasons.append(f"{name}: {value!r} is not one of {', '.join(allowed)}")
        return value

    def tin(self, name: str) -> str | None:
        value = (self.text(name, 10) or "").replace("-", "")
        if value and not (len(value) == 9 and identifiers.is_tin(value)):
            self.reasons.append(
                f"{name}: {value!r} is not a 9-digit Tax ID (digits 0-9 only; digits of "
                "other scripts are refused)"
            )
        return value or None

    def npi(self, name: str, required: bool = True) -> str | None:
        value = self.text(name, 10, required)
        if value is not None and not npi.is_valid(value):
            self.reasons.append(
                f"{name}: {value} is not a valid NPI (ten digits 0-9, Luhn check digit; "
                "digits of other scripts are refused)"
            )
        return value

    def member_id(self, name: str = "member_id") -> str | None:
        value = self.text(name, 24)
        if value is None:
            return None
        normal = normalize_member_id(value)
        if not MEMBER_ID.match(normal):
            self.reasons.append(
                f"{name}: {value!r} is not a member ID (letters and digits ending in a "
                "two-digit suffix)"
            )
        return normal

    def done(self, values: dict[str, Any]) -> dict[str, Any]:
        if self.reasons:
            raise RowError(self.reasons)
        return values


def provider(raw: Mapping[str, str | None]) -> dict[str, Any]:
    row = Row(raw)
    start, end = row.day("effective_from"), row.day("effective_to", required=False)
    if start and end and end < start:
        row.reasons.append("effective_to: before effective_from")
    taxonomy = row.text("taxonomy", 10, required=False)
    if taxonomy and not TAXONOMY.match(taxonomy):
        row.reasons.append(f"taxonomy: {taxonomy!r} is not a taxonomy code (e.g. 207Q00000X)")
    return row.done(
        {
            "npi": row.npi("npi"),
            "tin": row.tin("tin"),
            "name": row.text("name", 200),
            "taxonomy": taxonomy,
            "network_status": row.choice("network_status", NETWORK_STATUSES, "in_network"),
            "effective_from": start,
            "effective_to": end,
        }
    )


def member(raw: Mapping[str, str | None]) -> dict[str, Any]:
    row = Row(raw)
    member_id = row.member_id()
    suffix = member_id[-2:] if member_id else ""
    relation = row.choice(
        "relation", RELATIONSHIPS, SUFFIX_RELATION.get(suffix, "child" if suffix else None)
    )
    born = row.day("date_of_birth")
    if born and born > date.today():
        row.reasons.append("date_of_birth: in the future")
    return row.done(
        {
            "member_id": member_id,
            "subscriber_id": member_id[:-2] if member_id else None,
            "relation": relation,
            "first_name": row.text("first_name", 100),
            "last_name": row.text("last_name", 100),
            "date_of_birth": born,
            "pcp_npi": row.npi("pcp_npi", required=False),
        }
    )


def coverage(raw: Mapping[str, str | None]) -> dict[str, Any]:
    row = Row(raw)
    start, end = row.day("effective_date"), row.day("termination_date", required=False)
    if start and end and end < start:
        row.reasons.append("termination_date: before effective_date")
    return row.done(
        {
            "member_id": row.member_id(),
            "product_code": row.text("product_code", 20),
            "effective_date": start,
            "termination_date": end,
        }
    )


def benefit(raw: Mapping[str, str | None]) -> dict[str, Any]:
    row = Row(raw)
    code = (row.text("service_type_code", 2) or "").upper()
    if code and code not in SERVICE_TYPES:
        row.reasons.append(f"service_type_code: {code!r} is not a known X12 service type")
    return row.done(
        {
            "product_code": row.text("product_code", 20),
            "service_type_code": code,
            "network": row.choice("network", NETWORK_STATUSES, "in_network"),
            "covered": row.flag("covered", True),
            "copay": row.money("copay", "0"),
            "coinsurance_percent": row.number("coinsurance_percent", 0, 100, required=False) or 0,
            "deductible_applies": row.flag("deductible_applies", True),
            "visit_limit": row.number("visit_limit", 1, 999, required=False),
            "prior_auth_required": row.flag("prior_auth_required", False),
        }
    )


def claim(raw: Mapping[str, str | None]) -> dict[str, Any]:
    """A claim adjudicated elsewhere (history), with its amounts; no lines."""
    row = Row(raw)
    service, received = row.day("service_date"), row.day("received_date")
    if service and received and received < service:
        row.reasons.append("received_date: before service_date")
    values = {
        "claim_number": row.text("claim_number", 30),
        "member_id": row.member_id(),
        "billing_tin": row.tin("billing_tin"),
        "billing_npi": row.npi("billing_npi"),
        "service_date": service,
        "received_date": received,
        "status": row.choice("status", CLAIM_STATUSES),
        "billed_amount": row.money("billed_amount"),
        "allowed_amount": row.money("allowed_amount", "0"),
        "paid_amount": row.money("paid_amount", "0"),
        "patient_responsibility": row.money("patient_responsibility", "0"),
    }
    allowed, billed = values["allowed_amount"], values["billed_amount"]
    if isinstance(allowed, Decimal) and isinstance(billed, Decimal) and allowed > billed:
        row.reasons.append("allowed_amount: more than billed_amount")
    return row.done(values)


def location(raw: Mapping[str, str | None]) -> dict[str, Any]:
    row = Row(raw)
    state = (row.text("state", 2) or "").upper()
    if state and not state.isalpha():
        row.reasons.append(f"state: {state!r} is not a two-letter state code")
    postal = row.text("postal_code", 10)
    if postal and not re.fullmatch(r"[0-9]{5}(-[0-9]{4})?", postal):
        row.reasons.append(f"postal_code: {postal!r} is not a ZIP code (12345 or 12345-6789)")
    return row.done(
        {
            "npi": row.npi("npi"),
            "address_line": row.text("address_line", 200),
            "city": row.text("city", 100),
            "state": state,
            "postal_code": postal,
        }
    )


def network(raw: Mapping[str, str | None]) -> dict[str, Any]:
    row = Row(raw)
    return row.done(
        {
            "npi": row.npi("npi"),
            "product_code": row.text("product_code", 20),
            "status": row.choice("status", NETWORK_STATUSES),
        }
    )


Parser = Callable[[Mapping[str, str | None]], dict[str, Any]]
PARSERS: dict[str, Parser] = {
    "providers": provider,
    "members": member,
    "coverages": coverage,
    "benefits": benefit,
    "claims": claim,
    "locations": location,
    "networks": network,
}


@dataclass(frozen=True)
class Columns:
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()


COLUMNS: dict[str, Columns] = {
    "providers": Columns(
        ("npi", "tin", "name", "effective_from"), ("taxonomy", "network_status", "effective_to")
    ),
    "members": Columns(
        ("member_id", "first_name", "last_name", "date_of_birth"), ("relation", "pcp_npi")
    ),
    "coverages": Columns(("member_id", "product_code", "effective_date"), ("termination_date",)),
    "benefits": Columns(
        ("product_code", "service_type_code"),
        (
            "network",
            "covered",
            "copay",
            "coinsurance_percent",
            "deductible_applies",
            "visit_limit",
            "prior_auth_required",
        ),
    ),
    "claims": Columns(
        (
            "claim_number",
            "member_id",
            "billing_tin",
            "billing_npi",
            "service_date",
            "received_date",
            "status",
            "billed_amount",
        ),
        ("allowed_amount", "paid_amount", "patient_responsibility"),
    ),
    "locations": Columns(("npi", "address_line", "city", "state", "postal_code")),
    "networks": Columns(("npi", "product_code", "status")),
}
