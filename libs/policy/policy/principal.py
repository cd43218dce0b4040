"""The principal a verified RFC 9068 access token stands for."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


def _strings(value: Any) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list | tuple):
        return frozenset(str(v) for v in value)
    return frozenset()


def _tins(value: Any) -> frozenset[str]:
    digits = (str(v).replace("-", "") for v in value) if isinstance(value, list | tuple) else ()
    return frozenset(d for d in digits if len(d) == 9 and d.isdigit())


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

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> Principal:
        return cls(
            subject=str(claims["sub"]),
            client_id=str(claims["client_id"]),
            scopes=_strings(claims.get("scope")),
            roles=_strings(claims.get("roles")),
            org_id=str(claims["org_id"]) if claims.get("org_id") else None,
            tax_ids=_tins(claims.get("tax_ids")),
            token_id=str(claims["jti"]) if claims.get("jti") else None,
            expires_at=int(claims["exp"]),
            claims=dict(claims),
        )

    @property
    def is_user(self) -> bool:
        """True when a person signed in; False for a client acting for itself."""
        return self.subject != self.client_id
