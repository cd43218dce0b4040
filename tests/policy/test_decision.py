"""The access decision table and its reasons."""

from __future__ import annotations

from typing import Any

import pytest

from policy import ACTIONS, Principal, Resource, Rule, decide
from policy import decision as module
from tests.support.tokens import token_claims


def principal(**claims: Any) -> Principal:
    return Principal.from_claims(token_claims(**claims))


def test_every_action_names_a_scope() -> None:
    assert set(ACTIONS) == {
        "eligibility.read",
        "claims.read",
        "claim.read",
        "claim.amounts",
        "claims.submit",
    }
    assert all(rule.scope for rule in ACTIONS.values())


def test_matching_tin_allows_and_says_which() -> None:
    decision = decide(
        principal(tax_ids=["123456789", "987654321"]),
        "claims.read",
        Resource.plan(["987654321", "444444444"]),
    )
    assert decision.allowed and decision.reason == "allowed"
    assert decision.matched_tax_ids == frozenset({"987654321"})


def test_no_matching_provider_record_explains_what_to_do() -> None:
    decision = decide(
        principal(tax_ids=["555000111"]), "eligibility.read", Resource.plan(["123456789"])
    )
    assert not decision.allowed
    assert decision.reason == "no_matching_provider_record"
    assert "55-5000111" in decision.explanation
    assert "administrator" in decision.explanation
    assert "match no provider record" in decision.explanation


def test_claim_billed_under_another_tin() -> None:
    decision = decide(principal(tax_ids=["123456789"]), "claim.read", Resource.claim("987654321"))
    assert (decision.allowed, decision.reason) == (False, "tin_not_billed")


def test_claim_billed_under_own_tin() -> None:
    assert decide(
        principal(tax_ids=["123456789"]), "claim.read", Resource.claim("123456789")
    ).allowed


def test_missing_scope() -> None:
    decision = decide(
        principal(scope="openid claims:read"), "eligibility.read", Resource.plan(["123456789"])
    )
    assert (decision.allowed, decision.reason) == (False, "insufficient_scope")
    assert "eligibility:read" in decision.explanation


def test_no_tax_ids() -> None:
    decision = decide(principal(tax_ids=[]), "claims.read", Resource.plan(["123456789"]))
    assert (decision.allowed, decision.reason) == (False, "no_tax_ids")


def test_unknown_action_is_denied() -> None:
    decision = decide(principal(), "claims.delete", Resource.plan(["123456789"]))
    assert (decision.allowed, decision.reason) == (False, "unknown_action")


def test_roles_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    table = dict(module.ACTIONS)
    table["claims.export"] = Rule(scope="claims:read", roles=frozenset({"billing"}))
    monkeypatch.setattr(module, "ACTIONS", table)
    clinical = principal(roles=["subscriber", "clinical"])
    billing = principal(roles=["subscriber", "billing"])
    assert decide(clinical, "claims.export", Resource.plan(["123456789"])).reason == "missing_role"
    assert decide(billing, "claims.export", Resource.plan(["123456789"])).allowed


WRITE = "openid eligibility:read claims:read claims:write"


@pytest.mark.parametrize(
    ("roles", "action", "allowed"),
    [
        (["billing"], "eligibility.read", True),
        (["clinical"], "eligibility.read", True),
        (["integrator"], "eligibility.read", True),
        (["subscriber"], "eligibility.read", False),
        (["billing"], "claim.read", True),
        (["clinical"], "claim.read", True),
        (["billing"], "claim.amounts", True),
        (["clinical"], "claim.amounts", False),
        (["billing"], "claims.submit", True),
        (["integrator"], "claims.submit", True),
        (["clinical"], "claims.submit", False),
        (["administrator"], "claims.submit", False),
    ],
)
def test_the_plan_roles_table(roles: list[str], action: str, allowed: bool) -> None:
    """billing reads and submits claims; clinical checks eligibility and claim status
    but never sees amounts; a client acting for itself is an integrator."""
    who = principal(roles=roles, scope=WRITE)
    decision = decide(who, action, Resource.claim("123456789"))
    assert decision.allowed is allowed
    if not allowed:
        assert decision.reason == "missing_role"


def test_submitting_needs_the_write_scope() -> None:
    decision = decide(principal(roles=["billing"]), "claims.submit", Resource.claim("123456789"))
    assert (decision.allowed, decision.reason) == (False, "insufficient_scope")
