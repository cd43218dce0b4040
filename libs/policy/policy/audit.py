"""Hash-chained audit trails: the one hashing and verification rule every service uses.

Each event's hash is SHA-256 over its canonical JSON content (sorted keys, no
spaces) together with the previous event's hash; the first event follows
GENESIS. `ChainVerifier` walks events in sequence order and names the first one
that was altered, removed or reordered, and a trail cut short at its end.
Writers only insert events; `policy.sealing` chains them behind the writers and
`policy.checkpoints` signs the chain's head.

`AccessRecord` is what a resource service writes for each access to patient
data: who, through which client, for which organization, which member and TIN,
and the decision with its reason.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from policy.decision import Decision
from policy.principal import Principal

GENESIS = "0" * 64


def chain_hash(prev_hash: str, content: Mapping[str, Any]) -> str:
    canonical = json.dumps(
        {**content, "prev_hash": prev_hash},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Verification:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    problem: str | None = None
    checkpoints: int = 0  # signed checkpoints the chain matched
    unsealed: int = 0  # committed events not chained yet (reported, not a failure)

    def describe(self) -> str:
        if self.ok:
            said = f"audit trail intact: {self.checked} events verified"
            said += f", {self.checkpoints} signed checkpoints matched"
            return said + (f"; {self.unsealed} events not sealed yet" if self.unsealed else "")
        where = f" at event {self.first_bad_seq}" if self.first_bad_seq is not None else ""
        return f"audit trail BROKEN{where}: {self.problem}"


class ChainVerifier:
    """Feed events in sequence order; the first problem found stops the walk."""

    def __init__(self) -> None:
        self.expected, self.prev = 1, GENESIS
        self.result: Verification | None = None

    def feed(self, seq: int, prev_hash: str, stored_hash: str, content: Mapping[str, Any]) -> bool:
        """False once a problem is found (then `result` says which)."""
        checked = self.expected - 1
        if seq != self.expected:
            self.result = Verification(
                False,
                checked,
                self.expected,
                f"event {self.expected} is missing (removed or reordered)",
            )
        elif prev_hash != self.prev:
            self.result = Verification(
                False, checked, seq, "it does not follow the event before it (removed or reordered)"
            )
        elif chain_hash(prev_hash, content) != stored_hash:
            self.result = Verification(False, checked, seq, "its content was altered")
        else:
            self.expected, self.prev = self.expected + 1, stored_hash
            return True
        return False

    def finish(self, head_seq: int | None, head_hash: str | None) -> Verification:
        if self.result is not None:
            return self.result
        last = self.expected - 1
        if head_seq != last or head_hash != self.prev:
            return Verification(
                False,
                last,
                self.expected,
                f"events {self.expected} to {head_seq} were removed from the end",
            )
        return Verification(True, last)


@dataclass(frozen=True)
class AccessRecord:
    subject: str
    client_id: str
    org_id: str | None
    action: str
    member_id: str | None
    tax_id: str | None
    allowed: bool
    reason: str
    request_id: str | None

    @classmethod
    def of(
        cls,
        principal: Principal,
        decision: Decision,
        *,
        member_id: str | None,
        tax_id: str | None,
        request_id: str | None,
    ) -> AccessRecord:
        matched = min(decision.matched_tax_ids) if decision.matched_tax_ids else None
        tin = tax_id or matched
        # A multi-organization token names no org_id: record the organization of the TIN.
        acting = principal.orgs_for(tin) if tin and principal.org_id is None else ()
        return cls(
            subject=principal.subject,
            client_id=principal.client_id,
            org_id=principal.org_id or (acting[0].id if acting else None),
            action=decision.action,
            member_id=member_id,
            tax_id=tin,
            allowed=decision.allowed,
            reason=decision.reason,
            request_id=request_id,
        )

    def content(self) -> dict[str, Any]:
        return asdict(self)
