"""Access decisions: one table of action -> scope, roles and TIN rule.

`decide` never allows by default: an unknown action is denied. Every decision
carries a machine-readable reason and an explanation a person can act on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from policy.names import Scope
from policy.principal import Principal

TinRule = Literal["provider_record", "billing", "none"]


@dataclass(frozen=True)
class Rule:
    scope: str
    roles: frozenset[str] = frozenset()
    tin: TinRule = "provider_record"


# Plan roles carried in the token's `roles` claim: `billing` staff read and submit
# claims; `clinical` staff check eligibility and follow a claim's status, but never
# see its amounts. PLAN_ROLES is the one list of roles a person's membership may
# carry; identity accepts no other. `integrator` is a client acting for itself
# (client credentials), never granted to a person.
PLAN_ROLES = frozenset({"billing", "clinical"})
INTEGRATOR = "integrator"
READERS = PLAN_ROLES | {INTEGRATOR}
MONEY = frozenset({"billing", INTEGRATOR})

ACTIONS: Mapping[str, Rule] = {
    "eligibility.read": Rule(scope=Scope.ELIGIBILITY_READ, roles=READERS),
    "claims.read": Rule(scope=Scope.CLAIMS_READ, roles=READERS),
    "claim.read": Rule(scope=Scope.CLAIMS_READ, roles=READERS, tin="billing"),
    "claim.amounts": Rule(scope=Scope.CLAIMS_READ, roles=MONEY, tin="billing"),
    "claims.submit": Rule(scope=Scope.CLAIMS_WRITE, roles=MONEY, tin="billing"),
}


@dataclass(frozen=True)
class Resource:
    kind: str
    tax_ids: frozenset[str]

    @classmethod
    def plan(cls, provider_tins: Iterable[str]) -> Resource:
        """The plan's provider records whose TINs could match the request."""
        return cls("plan", frozenset(provider_tins))

    @classmethod
    def claim(cls, billing_tin: str) -> Resource:
        return cls("claim", frozenset([billing_tin]))


@dataclass(frozen=True)
class Decision:
    allowed: bool
    action: str
    reason: str
    explanation: str
    matched_tax_ids: frozenset[str] = frozenset()


def format_tin(tin: str) -> str:
    return f"{tin[:2]}-{tin[2:]}"


def _deny(action: str, reason: str, explanation: str) -> Decision:
    return Decision(False, action, reason, explanation)


def decide(principal: Principal, action: str, resource: Resource) -> Decision:
    rule = ACTIONS.get(action)
    if rule is None:
        return _deny(
            action, "unknown_action", f"The action {action!r} is not one this service knows."
        )
    if rule.scope not in principal.scopes:
        return _deny(
            action,
            "insufficient_scope",
            f"This token was not granted the scope {rule.scope!r}. Sign in again through an "
            "application that asks for it, or ask your administrator to grant it to your client.",
        )
    if rule.roles and not rule.roles & principal.roles:
        return _deny(
            action,
            "missing_role",
            f"This needs one of the roles {', '.join(sorted(rule.roles))}; your account has "
            f"{', '.join(sorted(principal.roles)) or 'none'}. "
            "Ask your organization's TINpass administrator.",
        )
    if rule.tin == "none":
        return Decision(True, action, "allowed", "Allowed.")
    return _decide_tin(principal, action, rule, resource)


def _decide_tin(principal: Principal, action: str, rule: Rule, resource: Resource) -> Decision:
    if not principal.tax_ids:
        return _deny(
            action,
            "no_tax_ids",
            "Your account carries no Tax IDs, so it cannot act for any provider. "
            "Ask your organization's TINpass administrator to grant you the Tax IDs you work for.",
        )
    matched = principal.tax_ids & resource.tax_ids
    if matched:
        return Decision(
            True,
            action,
            "allowed",
            "Allowed: a Tax ID of your account matches.",
            frozenset(matched),
        )
    if rule.tin == "billing":
        return _deny(
            action,
            "tin_not_billed",
            "The claim's billing Tax ID is not one of your account's Tax IDs.",
        )
    shown = ", ".join(format_tin(t) for t in sorted(principal.tax_ids))
    return _deny(
        action,
        "no_matching_provider_record",
        f"The Tax IDs on your account ({shown}) match no provider record at this health plan. "
        "Ask your organization's TINpass administrator to check the Tax IDs on your account, "
        "or contact the plan's provider services to register your Tax ID.",
    )
