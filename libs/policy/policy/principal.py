"""The principal a verified RFC 9068 access token stands for.

A token speaks for one organization (`org_id`, `tax_ids`, `roles`) or, for a user
of several organizations, for all of them: no `org_id`, flat `tax_ids` (the union),
flat `roles` (only those held in every organization) and `orgs`, one
`{"id", "name", "tax_ids", "roles"}` per organization. TIN lists are JSON arrays
of 9-digit strings or, in large tokens, one space-delimited string.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from policy.names import Claim


def _strings(value: Any) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list | tuple):
        return frozenset(str(v) for v in value)
    return frozenset()


_TIN = re.compile(r"[0-9]{9}")  # ASCII digits only: str.isdigit() takes any script's digits


def _tins(value: Any) -> frozenset[str]:
    """A JSON array of TINs or one space-delimited string; anything not 9 digits is dropped."""
    items: Iterable[Any]
    if isinstance(value, str):
        items = value.split()
    elif isinstance(value, list | tuple):
        items = value
    else:
        items = ()
    digits = (str(v).replace("-", "") for v in items)
    return frozenset(d for d in digits if _TIN.fullmatch(d))


@dataclass(frozen=True)
class OrgContext:
    """One organization a token speaks for: its TINs and the roles held there."""

    id: str
    name: str | None
    tax_ids: frozenset[str]
    roles: frozenset[str]


def _orgs(claims: Mapping[str, Any]) -> tuple[OrgContext, ...]:
    """The `orgs` claim; a single-organization token is read as one context."""
    value = claims.get(Claim.ORGS)
    if isinstance(value, list):
        return tuple(
            OrgContext(
                id=str(entry["id"]),
                name=str(entry["name"]) if entry.get("name") is not None else None,
                tax_ids=_tins(entry.get(Claim.TAX_IDS)),
                roles=_strings(entry.get(Claim.ROLES)),
            )
            for entry in value
            if isinstance(entry, Mapping) and entry.get("id")
        )
    if claims.get(Claim.ORG_ID):
        return (
            OrgContext(
                id=str(claims[Claim.ORG_ID]),
                name=None,
                tax_ids=_tins(claims.get(Claim.TAX_IDS)),
                roles=_strings(claims.get(Claim.ROLES)),
            ),
        )
    return ()


@dataclass(frozen=True)
class Principal:
    subject: str
    client_id: str
    scopes: frozenset[str]
    roles: frozenset[str]
    org_id: str | None
    tax_ids: frozenset[str]
    token_id: str | None
    expires_at: int
    claims: Mapping[str, Any] = field(repr=False, compare=False)
    orgs: tuple[OrgContext, ...] = ()

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> Principal:
        return cls(
            subject=str(claims["sub"]),
            client_id=str(claims["client_id"]),
            scopes=_strings(claims.get("scope")),
            roles=_strings(claims.get(Claim.ROLES)),
            org_id=str(claims[Claim.ORG_ID]) if claims.get(Claim.ORG_ID) else None,
            tax_ids=_tins(claims.get(Claim.TAX_IDS)),
            token_id=str(claims["jti"]) if claims.get("jti") else None,
            expires_at=int(claims["exp"]),
            claims=dict(claims),
            orgs=_orgs(claims),
        )

    @property
    def is_user(self) -> bool:
        """True when a person signed in; False for a client acting for itself."""
        return self.subject != self.client_id

    def orgs_for(self, tin: str) -> tuple[OrgContext, ...]:
        """The organizations through which this token may act for `tin` (never beyond
        the flat `tax_ids`)."""
        if tin not in self.tax_ids:
            return ()
        return tuple(org for org in self.orgs if tin in org.tax_ids)

    def roles_for(self, tin: str) -> frozenset[str]:
        """The roles held where `tin` was granted: per organization when the token says,
        else the flat roles. Empty when the token may not act for `tin` at all."""
        if tin not in self.tax_ids:
            return frozenset()
        orgs = self.orgs_for(tin)
        if not orgs:
            return self.roles
        return frozenset().union(*(org.roles for org in orgs))
