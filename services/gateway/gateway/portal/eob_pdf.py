"""The Explanation of Benefits as a PDF (fpdf2), built on the server from the same
reading of the claim as the page (claim_view): what was billed, allowed and paid, what
the patient owes, why lines were denied, and each service line with its adjustments.

Letter size, Helvetica (the PDF core font: Latin-1 only, so other characters are
replaced); nothing is kept on disk.
"""

from __future__ import annotations

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from gateway.portal.claim_view import ClaimView, Line

TEXT = 10
SMALL = 8.5


def _latin(text: str) -> str:
    for wide, narrow in (("\u2014", "-"), ("\u2013", "-"), ("\u2019", "'")):
        text = text.replace(wide, narrow)
    return text.encode("latin-1", "replace").decode("latin-1")


class _Eob(FPDF):
    def __init__(self, plan_name: str, contact: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="Letter")
        self.plan_name, self.contact = plan_name, contact
        self.set_margins(16, 16, 16)
        self.set_auto_page_break(auto=True, margin=18)

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font("Helvetica", size=SMALL)
        self.cell(0, 5, _latin(f"{self.plan_name} · questions: {self.contact}"), align="L")
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="R")

    def write_line(self, text: str, size: float = TEXT, style: str = "") -> None:
        self.set_font("Helvetica", style=style, size=size)
        self.multi_cell(0, size * 0.5, _latin(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def heading(self, text: str) -> None:
        self.ln(3)
        self.write_line(text, 12, "B")
        self.ln(1)

    def pairs(self, rows: list[tuple[str, str]], widths: tuple[int, int] = (45, 60)) -> None:
        self.set_font("Helvetica", size=TEXT)
        with self.table(
            col_widths=widths, width=sum(widths), align="LEFT", first_row_as_headings=False
        ) as table:
            for name, value in rows:
                row = table.row()
                row.cell(_latin(name))
                row.cell(_latin(value), align="RIGHT" if value.startswith("$") else "LEFT")


def _reasons(pdf: _Eob, view: ClaimView) -> None:
    if not (view.denials or view.remarks or view.note):
        return
    pdf.heading(view.why)
    if view.note:
        pdf.write_line(f"The plan's note: {view.note}.")
    for reason in view.denials:
        pdf.write_line(f"{reason.code} ({reason.where}): {reason.description}")
    for remark in view.remarks:
        pdf.write_line(f"Remark {remark.code} ({remark.where}): {remark.description}")


def _line(pdf: _Eob, line: Line) -> None:
    pdf.ln(2)
    pdf.write_line(
        f"Line {line.number}: procedure {line.procedure}, {line.service_date}, {line.status}",
        TEXT,
        "B",
    )
    details = "; ".join(f"{name}: {value}" for name, value in line.details)
    pdf.write_line(details, SMALL)
    pdf.pairs(line.amounts, (35, 30))
    for code, explanation, amount in line.adjustments:
        pdf.write_line(f"Adjustment {code}, {amount}: {explanation}", SMALL)
    for code, description in line.remarks:
        pdf.write_line(f"Remark {code}: {description}", SMALL)


def eob_pdf(view: ClaimView, plan_name: str, contact: str) -> bytes:
    """The claim's EOB as PDF bytes (`view.lines` must be known: amounts may be seen)."""
    pdf = _Eob(plan_name, contact)
    pdf.set_title(_latin(f"Explanation of benefits, claim {view.number}"))
    pdf.set_author(_latin(plan_name))
    pdf.set_creator("TINpass provider portal")
    pdf.add_page()
    pdf.write_line(f"{plan_name} · provider portal", SMALL)
    pdf.write_line("Explanation of benefits", 16, "B")
    pdf.write_line(f"Claim {view.number}: {view.status_words}", 12, "B")
    _reasons(pdf, view)
    pdf.heading("Amounts")
    pdf.pairs(view.amounts)
    pdf.heading("Claim")
    pdf.pairs(view.facts)
    pdf.heading("Service lines")
    for line in view.lines or []:
        _line(pdf, line)
    if view.history:
        pdf.heading("Status history")
        for _iso, on, words, note in view.history:
            pdf.write_line(f"{on}: {words}" + (f" ({note})" if note else ""))
    return bytes(pdf.output())
