"""policy: TINpass's shared token verification and access decisions.

Framework-free: resource services and gateways verify RFC 9068 access tokens
against a cached JWKS (`TokenVerifier`) and ask `decide` whether a principal may
perform an action on a resource, with a reason.
"""

from policy.decision import ACTIONS, PLAN_ROLES, Decision, Resource, Rule, decide
from policy.errors import InvalidToken
from policy.jwks import JWKSCache, JWKSUnavailable
from policy.principal import Principal
from policy.problems import PROBLEM_JSON, Problem, problem
from policy.verifier import TokenVerifier

__all__ = [
    "ACTIONS",
    "PLAN_ROLES",
    "PROBLEM_JSON",
    "Decision",
    "InvalidToken",
    "JWKSCache",
    "JWKSUnavailable",
    "Principal",
    "Problem",
    "Resource",
    "Rule",
    "TokenVerifier",
    "decide",
    "problem",
]
