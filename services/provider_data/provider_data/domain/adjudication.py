"""The deterministic rules engine: a claim's lines priced and cost-shared, in order.

Pure functions over plain values (no database, no clock, no randomness): the same
claim against the same benefits and accumulators always gives the same result.

Per line, in line order:
1. a procedure not on the fee schedule is denied (CO-96, remark M51);
2. a service type the product does not cover is denied (CO-96, remark N130);
3. a service needing prior authorization, billed without one, is denied (CO-197, M62);
4. a visit-limited service past its limit is denied (CO-119, N362);
5. otherwise allowed = min(charge, fee per unit x units); the rest is CO-45;
   deductible (PR-1) = the least of allowed and what remains of the individual and
   family deductibles (when the benefit applies it); copay (PR-3) = the least of
   the benefit's copay and what is left; coinsurance (PR-2) = percent of the rest,
   rounded half up to the cent; the patient's share is then capped by what remains
   of the individual and family out-of-pocket maximums (coinsurance is reduced
   first, then copay, then deductible); paid = allowed - patient's share.
   The accumulators then grow by the deductible and by the patient's share.
A claim with a line billed with modifier 22 pends for medical review (OA-133 on
every line, nothing applied); review then approves it (priced as above) or denies
every line (CO-50, remark N10). The claim is paid when no line is denied, denied
when all are, and partially paid otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from provider_data.platform.models import ZERO

CENT = Decimal("0.01")
REVIEW_MODIFIER = "22"


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Terms:
    """A product's benefit for one service type in one network."""

    covered: bool = True
    copay: Decimal = ZERO
    coinsurance_percent: int = 0
    deductible_applies: bool = True
    visit_limit: int | None = None
    prior_auth_required: bool = False


@dataclass
class Bucket:
    """One deductible or out-of-pocket maximum; None means no such limit."""

    amount: Decimal | None
    met: Decimal = ZERO

    @property
    def remaining(self) -> Decimal | None:
        return None if self.amount is None else max(self.amount - self.met, ZERO)


@dataclass
class Accumulators:
    deductible_individual: Bucket
    deductible_family: Bucket
    oop_individual: Bucket
    oop_family: Bucket
    visits: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Line:
    procedure_code: str
    charge: Decimal
    units: int = 1
    modifiers: tuple[str, ...] = ()
    fee_per_unit: Decimal | None = None
    service_type_code: str | None = None
    terms: Terms | None = None


@dataclass
class LineResult:
    status: str
    allowed: Decimal = ZERO
    deductible: Decimal = ZERO
    copay: Decimal = ZERO
    coinsurance: Decimal = ZERO
    paid: Decimal = ZERO
    adjustments: list[tuple[str, str, Decimal]] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)

    @property
    def patient_responsibility(self) -> Decimal:
        return self.deductible + self.copay + self.coinsurance


@dataclass
class ClaimResult:
    status: str
    lines: list[LineResult]
    note: str

    def total(self, name: str) -> Decimal:
        return sum((getattr(line, name) for line in self.lines), ZERO)


def _least(*values: Decimal | None) -> Decimal:
    return min(v for v in values if v is not None)


def _denied(line: Line, reason: str, remark: str) -> LineResult:
    return LineResult("denied", adjustments=[("CO", reason, line.charge)], remarks=[remark])


def _refusal(line: Line, has_authorization: bool, acc: Accumulators) -> LineResult | None:
    if line.fee_per_unit is None:
        return _denied(line, "96", "M51")
    terms = line.terms
    if terms is None or not terms.covered:
        return _denied(line, "96", "N130")
    if terms.prior_auth_required and not has_authorization:
        return _denied(line, "197", "M62")
    used = acc.visits.get(line.service_type_code or "", 0)
    if terms.visit_limit is not None and used >= terms.visit_limit:
        return _denied(line, "119", "N362")
    return None


def _cap(result: LineResult, acc: Accumulators) -> None:
    """Reduce the patient's share to what remains of the out-of-pocket maximums."""
    room = _least(
        result.patient_responsibility, acc.oop_individual.remaining, acc.oop_family.remaining
    )
    excess = result.patient_responsibility - room
    for name in ("coinsurance", "copay", "deductible"):
        cut = min(excess, getattr(result, name))
        setattr(result, name, getattr(result, name) - cut)
        excess -= cut


def price_line(line: Line, has_authorization: bool, acc: Accumulators) -> LineResult:
    """One line priced and cost-shared; the accumulators grow by what it applied."""
    refused = _refusal(line, has_authorization, acc)
    if refused is not None:
        return refused
    terms = line.terms or Terms()
    allowed = cents(min(line.charge, (line.fee_per_unit or ZERO) * line.units))
    result = LineResult("paid", allowed=allowed)
    if terms.deductible_applies:
        result.deductible = _least(
            allowed, acc.deductible_individual.remaining, acc.deductible_family.remaining
        )
    result.copay = min(terms.copay, allowed - result.deductible)
    rest = allowed - result.deductible - result.copay
    result.coinsurance = cents(rest * terms.coinsurance_percent / 100)
    _cap(result, acc)
    result.paid = allowed - result.patient_responsibility
    _apply(result, line, acc)
    return result


def _apply(result: LineResult, line: Line, acc: Accumulators) -> None:
    for bucket in (acc.deductible_individual, acc.deductible_family):
        bucket.met += result.deductible
    for bucket in (acc.oop_individual, acc.oop_family):
        bucket.met += result.patient_responsibility
    if line.terms and line.terms.visit_limit is not None and line.service_type_code:
        acc.visits[line.service_type_code] = acc.visits.get(line.service_type_code, 0) + 1
    codes = (
        ("CO", "45", line.charge - result.allowed),
        ("PR", "1", result.deductible),
        ("PR", "3", result.copay),
        ("PR", "2", result.coinsurance),
    )
    result.adjustments = [(group, code, amount) for group, code, amount in codes if amount > 0]


def adjudicate(
    lines: list[Line], has_authorization: bool, acc: Accumulators, *, reviewed: bool = False
) -> ClaimResult:
    """The claim's outcome; `reviewed` once medical review approved a pended claim."""
    if not reviewed and any(REVIEW_MODIFIER in line.modifiers for line in lines):
        pended = [
            LineResult("pended", adjustments=[("OA", "133", line.charge)], remarks=["N10"])
            for line in lines
        ]
        return ClaimResult("pended", pended, "pended for medical review (modifier 22)")
    results = [price_line(line, has_authorization, acc) for line in lines]
    denied = sum(1 for r in results if r.status == "denied")
    if denied == len(results):
        return ClaimResult("denied", results, "every line denied")
    if denied:
        return ClaimResult("partially_paid", results, f"{denied} of {len(results)} lines denied")
    return ClaimResult("paid", results, "processed as primary")


def denied_on_review(lines: list[Line]) -> ClaimResult:
    """Medical review found the services not necessary: every line denied (CO-50, N10)."""
    denied = [
        LineResult("denied", adjustments=[("CO", "50", line.charge)], remarks=["N10"])
        for line in lines
    ]
    return ClaimResult("denied", denied, "denied on medical review")
