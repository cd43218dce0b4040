"""The audit trail as operators read it: newest first, a page at a time, filtered by
organization (a part of its name, or its id), person (a part of their name, username
or e-mail address, or their id: the events they did and the events about them) and
event name. Reads only: nothing here writes, not even an event about the reading
(no operator read is audited, and a GET changes nothing)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from identity.admin.operator_directory import Paged, contains, paged, person_matches
from identity.models import AuditEvent, Client, Organization, User

PAGE_SIZE = 50
COUNT_UP_TO = 10_000


@dataclass(frozen=True)
class AuditFilter:
    organization: str = ""
    person: str = ""
    event: str = ""

    @property
    def any(self) -> bool:
        return bool(self.organization or self.person or self.event)


# The trail's distinct event names by a "loose index scan": one step down the index
# on `event` per name (a few dozen), however many millions of events there are; a
# plain DISTINCT would read every row on each visit of the page.
EVENT_NAMES = text(
    "WITH RECURSIVE names(name) AS ("
    " SELECT min(event) FROM audit_events"
    " UNION ALL"
    " SELECT (SELECT min(event) FROM audit_events WHERE event > names.name)"
    " FROM names WHERE names.name IS NOT NULL"
    ") SELECT name FROM names WHERE name IS NOT NULL"
)


async def event_names(session: AsyncSession) -> list[str]:
    """The names of the events in the trail, in order, for the filter's choices."""
    return [str(name) for name in await session.scalars(EVENT_NAMES)]


async def matched(session: AsyncSession, wanted: AuditFilter) -> dict[str, str]:
    """Words for whom the filter's organization and person matched ('Matches Evergreen
    Family Clinic'), so a filter given by id reads as a name."""
    shown: dict[str, str] = {}
    if wanted_org := wanted.organization.strip():
        names = await session.scalars(
            select(Organization.name)
            .where(or_(Organization.id == wanted_org, contains(Organization.name, wanted_org)))
            .order_by(Organization.name)
            .limit(6)
        )
        shown["organization"] = _matches(list(names))
    if wanted_person := wanted.person.strip():
        names = await session.scalars(
            select(User.username)
            .where(person_matches(wanted_person))
            .order_by(User.username)
            .limit(6)
        )
        shown["person"] = _matches(list(names))
    return shown


def _matches(names: list[str]) -> str:
    if not names:
        return "Matches nobody."
    more = ", and more" if len(names) > 5 else ""
    return f"Matches {', '.join(names[:5])}{more}."


async def events(
    session: AsyncSession, wanted: AuditFilter, page: int = 1, count_up_to: int = COUNT_UP_TO
) -> Paged:
    """A page of the events the filter wants, newest first. Counting them stops past
    `count_up_to` (the page then says "more than"), so a page of a long trail costs
    no count of all of it."""
    query = select(AuditEvent)
    if wanted.organization.strip():
        name = wanted.organization.strip()
        orgs = select(Organization.id).where(
            or_(Organization.id == name, contains(Organization.name, name))
        )
        query = query.where(AuditEvent.organization_id.in_(orgs))
    if wanted.person.strip():
        ids = select(User.id).where(person_matches(wanted.person.strip()))
        query = query.where(
            or_(
                and_(AuditEvent.actor_type.in_(("user", "operator")), AuditEvent.actor_id.in_(ids)),
                and_(AuditEvent.target_type == "user", AuditEvent.target_id.in_(ids)),
            )
        )
    if wanted.event.strip():
        query = query.where(AuditEvent.event == wanted.event.strip())
    newest_first = query.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
    rows, page, pages, total = await paged(session, newest_first, page, PAGE_SIZE, count_up_to)
    names = await _names(session, rows)
    items = [_event(row, names) for row in rows]
    return Paged(items, page, pages, min(total, count_up_to), total > count_up_to)


async def _names(session: AsyncSession, rows: list[AuditEvent]) -> dict[str, str]:
    """Words for the ids the page's events name: people, organizations, clients."""
    ids = {i for r in rows for i in (r.actor_id, r.target_id, r.organization_id) if i}
    people = await session.execute(
        select(User.id, User.username, User.given_name, User.family_name).where(User.id.in_(ids))
    )
    found = {i: f"{g} {f} ({u})".strip() if (g or f) else u for i, u, g, f in people}
    orgs = await session.execute(
        select(Organization.id, Organization.name).where(Organization.id.in_(ids))
    )
    found.update({i: n for i, n in orgs})
    clients = await session.execute(
        select(Client.client_id, Client.name).where(Client.client_id.in_(ids))
    )
    found.update({i: f"{n} ({i})" for i, n in clients})
    return found


def _event(row: AuditEvent, names: dict[str, str]) -> dict[str, Any]:
    return {
        "id": row.id,
        "occurred_at": row.occurred_at,
        "event": row.event,
        "actor": _who(row.actor_type, row.actor_id, names),
        "organization": names.get(row.organization_id or "", row.organization_id or ""),
        "target": _who(row.target_type, row.target_id, names) if row.target_type else "",
        "outcome": row.outcome,
        "reason": row.reason or "",
        "details": details_in_words(row.details or {}),
        "source_address": row.source_address or "",
    }


def _who(kind: str | None, ident: str | None, names: dict[str, str]) -> str:
    """A person's name and username, an organization's or client's name; else the kind
    of actor ('an operator at the command line')."""
    if ident and ident in names:
        return names[ident]
    kind_words = (kind or "").replace("_", " ")
    if ident == "cli":
        return f"{kind_words} at the command line".strip()
    return f"{kind_words} {ident}".strip() if ident else kind_words


def details_in_words(details: dict[str, Any], within: str = "") -> list[tuple[str, str]]:
    """(label, text) pairs, nested values flattened: {"after": {"given_name": "Hana"}}
    reads 'after, given name': 'Hana'; lists are joined with commas."""
    pairs: list[tuple[str, str]] = []
    for key, value in details.items():
        label = f"{within}, {key}" if within else str(key)
        label = label.replace("_", " ")
        if isinstance(value, dict) and value:
            pairs.extend(details_in_words(value, label))
        elif isinstance(value, list):
            pairs.append((label, ", ".join(_text(v) for v in value) or "none"))
        else:
            pairs.append((label, _text(value)))
    return pairs


def _text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str | int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
