"""Reading a claims search from a portal URL, and writing one back (for paging links).

A search is a GET, so it can be bookmarked and the back button returns to it; its
filters and page are query parameters. A member ID is patient data and never goes into
a portal URL: a search by member is sent as a POST (with the CSRF token), the member
ID kept in the session under a short random reference, and the browser sent on to the
GET address carrying only that reference (`member`), which means nothing elsewhere.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urlencode

from gateway.portal.views import format_tin

STATUSES = ("received", "pended", "paid", "partially_paid", "denied")
PAGE_SIZES = (10, 25, 50)
DEFAULT_PAGE_SIZE = 25
FILTERS = ("claim_number", "tin", "status", "service_date_from", "service_date_to")
CLAIM_NUMBER = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,29}")
TIN = re.compile(r"[0-9]{2}-?[0-9]{7}")  # ASCII only: str.isdigit() and \d take any script's
MEMBER_ID = re.compile(r"[A-Za-z0-9*\- ]{1,24}")
CURSOR = re.compile(r"[A-Za-z0-9_-]{1,100}")
REMEMBERED = 20  # member searches a session keeps references to
TIN_ERROR = "Billing Tax ID: use nine digits 0-9, like 12-3456789."
# What the claims API's field names are called on the page.
FIELD_LABELS = {
    "member_id": "Member ID",
    "claim_number": "Claim number",
    "tin": "Billing Tax ID",
    "status": "Status",
    "service_date_from": "Service date from",
    "service_date_to": "Service date to",
}


@dataclass
class Search:
    """A claims search as the page shows it: filters as typed, and what is wrong."""

    form: dict[str, str] = field(default_factory=dict)  # filters, member_id, per_page
    member_ref: str = ""
    cursor: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def per_page(self) -> int:
        size = self.form.get("per_page", "")
        return int(size) if size.isascii() and size.isdigit() else DEFAULT_PAGE_SIZE

    def api_params(self) -> dict[str, str]:
        params = {name: self.form[name] for name in FILTERS if self.form.get(name)}
        if self.form.get("member_id"):
            params["member_id"] = self.form["member_id"]
        if self.cursor:
            params["cursor"] = self.cursor
        params["limit"] = str(self.per_page)
        return params

    def url(self, cursor: str | None = None) -> str:
        """This search's address, at the page `cursor` (the first page without one)."""
        query = {name: self.form[name] for name in FILTERS if self.form.get(name)}
        if self.member_ref:
            query["member"] = self.member_ref
        if self.per_page != DEFAULT_PAGE_SIZE:
            query["per_page"] = str(self.per_page)
        if cursor:
            query["cursor"] = cursor
        return "/portal/claims" + (f"?{urlencode(query)}" if query else "")


def _date(value: str, label: str, errors: list[str]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.append(f"{label}: enter a date like 2026-03-31.")
        return None


def check(form: dict[str, str]) -> list[str]:
    """What is wrong with the filters, in words a biller can act on."""
    errors: list[str] = []
    if form.get("claim_number") and not CLAIM_NUMBER.fullmatch(form["claim_number"]):
        errors.append("Claim number: use the letters, digits and dashes printed on the claim.")
    if form.get("tin") and not TIN.fullmatch(form["tin"]):
        errors.append(TIN_ERROR)
    if form.get("member_id") and not MEMBER_ID.fullmatch(form["member_id"]):
        errors.append("Member ID: use the ID on the member's card (up to 24 letters and digits).")
    if form.get("status") and form["status"] not in STATUSES:
        errors.append("Status: choose one from the list.")
    if form.get("per_page") and form["per_page"] not in {str(n) for n in PAGE_SIZES}:
        errors.append("Claims per page: choose 10, 25 or 50.")
    since = _date(form.get("service_date_from", ""), "Service date from", errors)
    until = _date(form.get("service_date_to", ""), "Service date to", errors)
    if since and until and since > until:
        errors.append(
            f"Service dates: the range ends on {until:%b} {until.day}, {until.year}, before it "
            f"starts on {since:%b} {since.day}, {since.year}. Swap the dates or change one."
        )
    return errors


def from_query(query: dict[str, str], session: dict[str, Any]) -> Search:
    """The search a GET address describes (its member from the session's references)."""
    form = {k: query[k].strip() for k in (*FILTERS, "per_page") if query.get(k, "").strip()}
    search = Search(form=form, cursor=query.get("cursor", "").strip())
    search.errors = check(form)
    ref = query.get("member", "").strip()
    if ref:
        member = (session.get("claim_members") or {}).get(ref)
        if isinstance(member, str):
            search.member_ref, search.form["member_id"] = ref, member
        else:
            search.errors.append(
                "This search was by member ID, which the portal keeps only while you are signed "
                "in. Enter the member ID again to search."
            )
    if search.cursor and not CURSOR.fullmatch(search.cursor):
        search.cursor = ""
        search.errors.append("This page of results no longer exists; start from the first page.")
    return search


def remember_member(session: dict[str, Any], member_id: str) -> str:
    """A reference to `member_id` for a search address; the session keeps the last few."""
    kept: dict[str, str] = dict(session.get("claim_members") or {})
    for ref, known in kept.items():
        if known == member_id:
            return ref
    ref = secrets.token_urlsafe(6)
    kept[ref] = member_id
    session["claim_members"] = dict(list(kept.items())[-REMEMBERED:])
    return ref


def from_post(form: dict[str, str], session: dict[str, Any]) -> Search:
    """The search a submitted form asks for; its member ID goes into the session."""
    wanted = {k: form[k] for k in (*FILTERS, "per_page", "member_id") if form.get(k)}
    search = Search(form=wanted, errors=check(wanted))
    if wanted.get("member_id") and not search.errors:
        search.member_ref = remember_member(session, wanted["member_id"])
    return search


def api_errors(body: Any) -> list[str]:
    """A 422 from the claims API in the page's words (its field names as the labels)."""
    errors = body.get("errors") if isinstance(body, dict) else None
    messages = []
    for error in errors if isinstance(errors, list) else []:
        if isinstance(error, dict):
            name = str(error.get("field") or "").rsplit(".", 1)[-1]
            label = FIELD_LABELS.get(name, "Search")
            messages.append(f"{label}: {error.get('message') or 'not valid'}")
    return messages or ["The plan could not read this search. Check the filters and try again."]


def not_yours(tin: str) -> str:
    return (
        f"Tax ID {format_tin(tin.replace('-', ''))} is not one of the Tax IDs your account "
        "bills under at this plan, so its claims cannot be shown. Leave Billing Tax ID empty "
        "to search all of yours, or ask your organization's administrator to add this Tax ID "
        "to your account."
    )
