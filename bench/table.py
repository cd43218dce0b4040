"""The one table `make bench` prints: a row per case, its target and pass/fail.

A row holds what was measured (requests per second, p50 and p99 latency in ms),
the ratio to its reference when it has one (TINpass ÷ oidc-provider, login ÷ raw
argon2id, ...) and a target made of optional bounds: a minimum rate, a maximum
p99, a minimum or maximum ratio. A row without a target is a reference row.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Target:
    min_rps: float | None = None
    max_p99_ms: float | None = None
    min_ratio: float | None = None
    max_ratio: float | None = None

    def describe(self) -> str:
        parts = []
        if self.min_ratio is not None:
            parts.append(f"≥ {self.min_ratio:g}x")
        if self.max_ratio is not None:
            parts.append(f"≤ {self.max_ratio:g}x")
        if self.min_rps is not None:
            parts.append(f"≥ {self.min_rps:,.0f}/s")
        if self.max_p99_ms is not None:
            parts.append(f"p99 ≤ {self.max_p99_ms:g} ms")
        return ", ".join(parts)

    @property
    def empty(self) -> bool:
        return not self.describe()


@dataclass
class Row:
    case: str
    rps: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    ratio: float | None = None
    target: Target = field(default_factory=Target)
    note: str = ""  # why a row has no figures, or what a figure means
    errors: int = 0  # failed requests (non-2xx/3xx, socket errors): a run with errors fails

    def passed(self) -> bool | None:
        """True or False against the target; None for reference rows and rows not measured."""
        if self.target.empty:
            return None
        if self.errors:
            return False
        checks: list[bool] = []
        bounds = (
            (self.target.min_rps, self.rps, lambda v, b: v >= b),
            (self.target.max_p99_ms, self.p99_ms, lambda v, b: v <= b),
            (self.target.min_ratio, self.ratio, lambda v, b: v >= b),
            (self.target.max_ratio, self.ratio, lambda v, b: v <= b),
        )
        for bound, value, ok in bounds:
            if bound is None:
                continue
            if value is None:
                return None
            checks.append(ok(value, bound))
        return all(checks)

    def verdict(self) -> str:
        passed = self.passed()
        if passed is None:
            return "" if self.target.empty else "n/a"
        return "pass" if passed else "FAIL"


def _num(value: float | None, digits: int = 0) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


HEADER = ("case", "req/s", "p50 ms", "p99 ms", "÷ ref", "target", "result")


def cells(row: Row, mark: str = "") -> tuple[str, ...]:
    ratio = "" if row.ratio is None else f"{row.ratio:.2f}x"
    case = row.case + (f" [{row.errors:,} errors]" if row.errors else "") + mark
    return (
        case,
        _num(row.rps),
        _num(row.p50_ms, 1),
        _num(row.p99_ms, 1),
        ratio,
        row.target.describe(),
        row.verdict(),
    )


def render(rows: list[Row]) -> str:
    """A Markdown table (readable in a terminal, pasteable into the README); each
    row's note is a numbered footnote under it."""
    notes = list(dict.fromkeys(r.note for r in rows if r.note))
    marks = {id(r): f" ({notes.index(r.note) + 1})" for r in rows if r.note}
    table = [HEADER, *(cells(r, marks.get(id(r), "")) for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER))]
    right = {1, 2, 3, 4}

    def line(values: tuple[str, ...]) -> str:
        padded = (
            v.rjust(widths[i]) if i in right else v.ljust(widths[i]) for i, v in enumerate(values)
        )
        return "| " + " | ".join(padded) + " |"

    rule = [("-" * (w - 1) + ":") if i in right else "-" * w for i, w in enumerate(widths)]
    lines = [line(HEADER), "| " + " | ".join(rule) + " |", *(line(v) for v in table[1:])]
    if notes:
        lines += ["", *(f"- ({i}) {note}" for i, note in enumerate(notes, 1))]
    return "\n".join(lines)
