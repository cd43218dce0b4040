"""The summary an eligibility answer opens with, before its detail.

What a front desk asks first: is the member covered on the date of service, on which
plan and product, who the PCP is, and what the member pays for the service asked
about (copay, coinsurance, deductible and out-of-pocket remaining) at the network
status the plan gives the provider record it matched. An answer that found no member
(or no coverage) says in plain words what to check instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.portal.labels import SERVICE_TYPES, code, dollars

LEVELS = ("individual", "family")
KINDS = ("deductible", "out_of_pocket")


@dataclass
class Costs:
    """What the member pays for one service type, as (label, text) rows."""

    service: str
    rows: list[tuple[str, str]]


@dataclass
class Summary:
    status: str
    network: str
    services: str
    costs: list[Costs] = field(default_factory=list)
    remaining: list[tuple[str, list[str]]] = field(default_factory=list)  # kind, by level
    explanation: str = ""
    checks: list[str] = field(default_factory=list)


def summarize(answer: dict[str, Any], plan_name: str) -> Summary:
    status = str(answer.get("status") or "")
    network = str(answer.get("network") or "in_network")
    asked = [str(c) for c in answer.get("service_type_codes") or ["30"]]
    summary = Summary(status, code(network, "network"), _services(asked))
    if status == "active":
        summary.costs = _costs(_rows(answer, "benefits"), asked, network)
        summary.remaining = _remaining(_rows(answer, "accumulators"), network)
    else:
        summary.explanation, summary.checks = _what_to_check(answer, plan_name)
    return summary


def _rows(answer: dict[str, Any], key: str) -> list[dict[str, Any]]:
    rows = answer.get(key)
    return [row for row in rows if isinstance(row, dict)] if isinstance(rows, list) else []


def _services(asked: list[str]) -> str:
    return ", ".join(SERVICE_TYPES.get(c, c) for c in asked)


def _costs(benefits: list[dict[str, Any]], asked: list[str], network: str) -> list[Costs]:
    """The asked services' benefits at the provider's network status."""
    costs = []
    for benefit in benefits:
        if benefit.get("service_type_code") not in asked or benefit.get("network") != network:
            continue
        service = str(benefit.get("service_type") or benefit.get("service_type_code"))
        costs.append(Costs(service, _cost_rows(benefit)))
    return costs


def _cost_rows(benefit: dict[str, Any]) -> list[tuple[str, str]]:
    if not benefit.get("covered"):
        return [("Covered", "No: this service is not covered")]
    coinsurance = benefit.get("coinsurance_percent") or 0
    rows = [
        ("Covered", "Yes"),
        ("Copay", dollars(benefit.get("copay"))),
        ("Coinsurance", f"{coinsurance}%" if coinsurance else "None"),
        ("Deductible applies", "Yes" if benefit.get("deductible_applies") else "No"),
        (
            "Prior authorization",
            "Required" if benefit.get("prior_auth_required") else "Not required",
        ),
    ]
    limit = benefit.get("visit_limit")
    if limit:
        used = benefit.get("visits_used") or 0
        rows.append(("Visits this plan year", f"{used} of {limit} used"))
    return rows


def _remaining(accumulators: list[dict[str, Any]], network: str) -> list[tuple[str, list[str]]]:
    """Deductible and out-of-pocket maximum left this plan year, individual and family."""
    found = {
        (a.get("kind"), a.get("level")): a for a in accumulators if a.get("network") == network
    }
    table = []
    for kind in KINDS:
        cells = []
        for level in LEVELS:
            limit = found.get((kind, level))
            cells.append(
                f"{dollars(limit.get('remaining'))} left of {dollars(limit.get('amount'))}"
                if limit
                else "none"
            )
        if any(cell != "none" for cell in cells):
            table.append((code(kind, "kind"), cells))
    return table


ID_CARD = (
    "Check the member ID exactly as printed on the member's ID card, with its two-digit "
    "suffix (for example M1000101, or M10001*01)."
)


def _what_to_check(answer: dict[str, Any], plan_name: str) -> tuple[str, list[str]]:
    """Why no coverage was found, in plain words, and what the front desk can check."""
    reason = answer.get("reason")
    if reason == "coverage_not_active":
        return (
            f"The member is on file at {plan_name} but has no coverage in effect on the "
            "date of service.",
            [
                "Check the date of service.",
                "Ask the patient whether they have new or other insurance, and check that.",
            ],
        )
    if reason == "date_of_birth_mismatch":
        return (
            f"{plan_name} has a member with this member ID, but with another date of birth.",
            [
                "Check the date of birth with the patient or on the ID card (month and day "
                "are easily swapped).",
                "Each family member has their own suffix: check that the member ID is this "
                "patient's, not the subscriber's.",
            ],
        )
    if reason == "name_mismatch":
        return (
            f"{plan_name} has a member with this member ID, but with another name.",
            ["Check the name's spelling as printed on the ID card.", ID_CARD],
        )
    return (
        f"{plan_name} has no member with this member ID.",
        [
            ID_CARD,
            f"Check that the card is from {plan_name}: members of other plans are not on "
            "file here.",
            "Check the member's date of birth.",
        ],
    )
