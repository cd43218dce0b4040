"""A claim and its Explanation of Benefits as a biller reads them, on the page and in
the PDF: plain status words, dollars, dates, and why lines were denied or reduced
(CARC adjustments and RARC remarks with the descriptions the claims API answers).

Shaped once here so the page and the PDF say the same things.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from gateway.portal import labels
from gateway.portal.labels import dollars, format_tin

WHY = {
    "denied": "Why it was denied",
    "partially_paid": "Why some lines were denied",
    "pended": "Why it is pending",
}
NO_DESCRIPTION = "No description on file; ask the plan."
LINE_AMOUNTS = (
    ("charge", "Billed"),
    ("allowed", "Allowed"),
    ("deductible", "Deductible"),
    ("copay", "Copay"),
    ("coinsurance", "Coinsurance"),
    ("paid", "Paid"),
    ("patient_responsibility", "Patient owes"),
)
CLAIM_AMOUNTS = (
    ("billed_amount", "Billed"),
    ("allowed_amount", "Allowed"),
    ("paid_amount", "Paid by the plan"),
    ("patient_responsibility", "Patient owes"),
)


def day(value: Any) -> str:
    """`2026-03-05` -> `Mar 5, 2026`."""
    try:
        when = date.fromisoformat(str(value))
    except ValueError:
        return "—" if value is None else str(value)
    return f"{when:%b} {when.day}, {when.year}"


def status_words(status: Any) -> str:
    return labels.code(status or "unknown", "status")


@dataclass(frozen=True)
class Reason:
    """One code that explains an outcome, and the lines it applies to."""

    code: str
    description: str
    lines: list[int] = field(default_factory=list)

    @property
    def where(self) -> str:
        if not self.lines:
            return ""
        names = ", ".join(str(n) for n in self.lines)
        return f"line {names}" if len(self.lines) == 1 else f"lines {names}"


@dataclass
class Line:
    number: int
    procedure: str
    status: str
    status_code: str
    service_date: str
    service_date_iso: str
    details: list[tuple[str, str]]
    amounts: list[tuple[str, str]]
    adjustments: list[tuple[str, str, str]]  # code, explanation, amount
    remarks: list[tuple[str, str]]


@dataclass
class ClaimView:
    number: str
    status: str
    status_words: str
    facts: list[tuple[str, str]]
    amounts: list[tuple[str, str]]
    denials: list[Reason]  # CARC codes that denied or held lines (CO/OA, not cost sharing)
    remarks: list[Reason]
    note: str
    lines: list[Line] | None
    history: list[tuple[str, str, str, str]]  # ISO date, date, status words, note

    @property
    def why(self) -> str:
        """The heading over the reasons."""
        return WHY.get(self.status, "Adjustments and remarks")


def _description(text: Any) -> str:
    return str(text) if text else NO_DESCRIPTION


def _line(raw: dict[str, Any]) -> Line:
    modifiers = ", ".join(str(m) for m in raw.get("modifiers") or []) or "none"
    service_type = raw.get("service_type") or raw.get("service_type_code") or "not given"
    return Line(
        number=int(raw.get("line_number") or 0),
        procedure=str(raw.get("procedure_code") or ""),
        status=status_words(raw.get("status")),
        status_code=str(raw.get("status") or ""),
        service_date=day(raw.get("service_date")),
        service_date_iso=str(raw.get("service_date") or ""),
        details=[
            ("Units", str(raw.get("units", "—"))),
            ("Modifiers", modifiers),
            ("Service type", str(service_type)),
        ],
        amounts=[(name, dollars(raw.get(key))) for key, name in LINE_AMOUNTS if key in raw],
        adjustments=[
            (
                f"{a.get('group_code', '')}-{a.get('reason_code', '')}",
                f"{labels.CODES['group_code'].get(a.get('group_code', ''), 'Adjustment')}: "
                f"{_description(a.get('description'))}",
                dollars(a.get("amount")),
            )
            for a in raw.get("adjustments") or []
            if isinstance(a, dict)
        ],
        remarks=[
            (str(r.get("code", "")), _description(r.get("description")))
            for r in raw.get("remarks") or []
            if isinstance(r, dict)
        ],
    )


def _reasons(lines: list[dict[str, Any]]) -> tuple[list[Reason], list[Reason]]:
    """Distinct denial/hold adjustments (group CO or OA on lines not paid, or CO-50 and
    the like) and remarks, each with the lines it appears on, in order of first use."""
    denials: dict[str, Reason] = {}
    remarks: dict[str, Reason] = {}
    for raw in lines:
        number = int(raw.get("line_number") or 0)
        if raw.get("status") != "paid":
            for a in raw.get("adjustments") or []:
                code = f"{a.get('group_code', '')}-{a.get('reason_code', '')}"
                reason = denials.setdefault(code, Reason(code, _description(a.get("description"))))
                reason.lines.append(number)
        for r in raw.get("remarks") or []:
            code = str(r.get("code", ""))
            remark = remarks.setdefault(code, Reason(code, _description(r.get("description"))))
            remark.lines.append(number)
    return list(denials.values()), list(remarks.values())


def claim_view(claim: dict[str, Any], lines: list[dict[str, Any]] | None) -> ClaimView:
    """The page's and the PDF's reading of a claim answer and its EOB lines (None when
    the person's role may not see amounts, or the EOB did not answer)."""
    denials, remarks = _reasons(lines or [])
    facts = [
        ("Member ID", str(claim.get("member_id") or "—")),
        ("Patient account number", str(claim.get("patient_control_number") or "—")),
        ("Billing Tax ID", format_tin(str(claim.get("billing_tin") or ""))),
        ("Billing NPI", str(claim.get("billing_npi") or "—")),
        ("Rendering NPI", str(claim.get("rendering_npi") or "—")),
        ("Network", str(claim.get("network") or "not given").replace("_", " ")),
        ("Service date", day(claim.get("service_date"))),
        ("Received", day(claim.get("received_date"))),
        (
            "Processed",
            day(claim.get("adjudicated_date")) if claim.get("adjudicated_date") else "not yet",
        ),
    ]
    history = [
        (
            str(e.get("on", "")),
            day(e.get("on")),
            status_words(e.get("status")),
            str(e.get("note") or ""),
        )
        for e in claim.get("history") or []
        if isinstance(e, dict)
    ]
    return ClaimView(
        number=str(claim.get("claim_number") or ""),
        status=str(claim.get("status") or ""),
        status_words=status_words(claim.get("status")),
        facts=facts,
        amounts=[(name, dollars(claim[key])) for key, name in CLAIM_AMOUNTS if key in claim],
        denials=denials,
        remarks=remarks,
        note=str(claim.get("denial_reason") or ""),
        lines=[_line(raw) for raw in lines if isinstance(raw, dict)] if lines is not None else None,
        history=history,
    )


def claim_row(claim: dict[str, Any]) -> dict[str, str]:
    """One claim of a search, as its row in the results table."""
    return {
        "number": str(claim.get("claim_number") or ""),
        "service_date": str(claim.get("service_date") or ""),
        "service_day": day(claim.get("service_date")),
        "member": str(claim.get("member_id") or ""),
        "tin": format_tin(str(claim.get("billing_tin") or "")),
        "status": str(claim.get("status") or ""),
        "status_words": status_words(claim.get("status")),
        "billed": dollars(claim.get("billed_amount")),
        "paid": dollars(claim.get("paid_amount")),
    }
