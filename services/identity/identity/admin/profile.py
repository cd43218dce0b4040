"""Editing an organization's profile (legal name, address, phone, NPIs): the same
field rules as registration, one audit event with before and after."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from identity.admin import service
from identity.models import Organization
from identity.registration import STATE, ZIP, parse_npis, profile_of
from policy.problems import Problem

EDITABLE = ("name", "street", "city", "state", "postal_code", "phone", "npis")


def _checked(changes: dict[str, Any]) -> dict[str, Any]:
    """The changes, normalized; an Problem naming each field at fault."""
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for key, value in changes.items():
        if key not in EDITABLE or value is None:
            continue
        if key == "npis":
            text = ", ".join(value) if isinstance(value, list) else str(value)
            npis, bad = parse_npis(text)
            if bad or not npis:
                errors[key] = " ".join(bad) or "Keep at least one NPI."
            clean[key] = npis
            continue
        text = str(value).strip()
        if key == "name" and not text:
            errors[key] = "The organization needs its legal name."
        elif key == "state" and not STATE.fullmatch(text):
            errors[key] = "Use the two-letter state code, like WA."
        elif key == "postal_code" and not ZIP.fullmatch(text):
            errors[key] = "Use a ZIP code of five or nine digits."
        clean[key] = text.upper() if key == "state" else text
    if errors:
        detail = " ".join(f"{k}: {v}" for k, v in errors.items())
        raise Problem(422, "The request is not valid", detail, "validation", errors=errors)
    return clean


async def update(
    session: AsyncSession, actor: service.Actor, org_id: str, changes: dict[str, Any]
) -> Organization:
    org = await service.organization(session, actor, org_id)
    clean = _checked(changes)
    before = profile_of(org)
    for key, value in clean.items():
        setattr(org, key, value)
    await session.flush()
    after = profile_of(org)
    if after != before:
        await service.record(
            session,
            actor,
            "organization.changed",
            org_id,
            "organization",
            org_id,
            before={k: v for k, v in before.items() if after[k] != v},
            after={k: v for k, v in after.items() if before[k] != v},
        )
    return org
