"""Plan roles: only the roles the plans' access rules understand (`policy.PLAN_ROLES`).

A membership's plan roles end up in its tokens' `roles` claim, so every way in
(admin API, console, nominations, CLI, seed) checks them here, and tokens carry
only known ones even if an older row holds something else.
"""

from __future__ import annotations

from collections.abc import Iterable

from policy import PLAN_ROLES

FIELD = "plan_roles"


class UnknownPlanRole(ValueError):
    """A plan role the plans do not define."""


def choices() -> list[str]:
    return sorted(PLAN_ROLES)


def message() -> str:
    return f"Each plan role is one of: {', '.join(choices())}."


def checked(values: Iterable[object]) -> list[str]:
    """The roles, deduplicated and sorted; UnknownPlanRole if any is not a plan role."""
    roles = sorted({str(value).strip() for value in values if str(value).strip()})
    if any(role not in PLAN_ROLES for role in roles):
        raise UnknownPlanRole(message())
    return roles


def known(values: Iterable[str]) -> list[str]:
    """Only the defined plan roles among `values` (what a token may carry)."""
    return [value for value in values if value in PLAN_ROLES]
