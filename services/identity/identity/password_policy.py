"""Password and username rules, as named presets chosen per deployment or organization.

`nist` follows NIST SP 800-63B §3.1.1.2: at least 15 characters when the password
is the only factor and 8 with MFA, at least 64 allowed (128 here), any printable
character and spaces, no composition rules, and no common or breached password
(zxcvbn's list of the 30,000 most common passwords, shipped offline) nor one
built on the username.

`payer-classic` follows the rules health plans publish (Oxford Health Plans):
usernames 5-10 characters, not case-sensitive; passwords 8-32 characters,
case-sensitive, no spaces, not containing the username, none of the last five
passwords, at least three of: upper-case letter, lower-case letter, digit, one of
`@ . _ -` (the only symbols allowed).

Every violation comes back as its own message, so a form can show them all.
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from identity.models import Membership, Organization, PasswordHistory
from identity.security import verify_password


@dataclass(frozen=True)
class Violation:
    code: str
    message: str


@dataclass(frozen=True)
class PasswordPolicy:
    name: str
    min_length_single_factor: int
    min_length_with_mfa: int
    max_length: int
    allow_spaces: bool
    min_character_classes: int
    allowed_symbols: str | None
    forbid_common: bool
    history: int
    username_min: int
    username_max: int

    def min_length(self, mfa_enabled: bool) -> int:
        return self.min_length_with_mfa if mfa_enabled else self.min_length_single_factor


PRESETS = {
    "nist": PasswordPolicy(
        name="nist",
        min_length_single_factor=15,
        min_length_with_mfa=8,
        max_length=128,
        allow_spaces=True,
        min_character_classes=0,
        allowed_symbols=None,
        forbid_common=True,
        history=0,
        username_min=3,
        username_max=64,
    ),
    "payer-classic": PasswordPolicy(
        name="payer-classic",
        min_length_single_factor=8,
        min_length_with_mfa=8,
        max_length=32,
        allow_spaces=False,
        min_character_classes=3,
        allowed_symbols="@._-",
        forbid_common=False,
        history=5,
        username_min=5,
        username_max=10,
    ),
}
USERNAME_CHARACTERS = frozenset(string.ascii_letters + string.digits + "._-@")


def policy_named(name: str) -> PasswordPolicy:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(
            f"unknown password policy {name!r}: use one of {', '.join(PRESETS)}"
        ) from None


@cache
def _common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def check_username(policy: PasswordPolicy, username: str) -> list[Violation]:
    found = []
    if not policy.username_min <= len(username) <= policy.username_max:
        found.append(
            Violation(
                "username_length",
                f"Usernames have {policy.username_min} to {policy.username_max} characters.",
            )
        )
    if set(username) - USERNAME_CHARACTERS:
        found.append(
            Violation(
                "username_characters",
                "Usernames use only letters, digits and . _ - @ (no spaces or asterisks).",
            )
        )
    return found


def check_password(
    policy: PasswordPolicy,
    password: str,
    *,
    username: str,
    mfa_enabled: bool,
    previous_hashes: Iterable[str] = (),
) -> list[Violation]:
    """Every rule the password breaks (an empty list when it is acceptable)."""
    found = _length(policy, password, mfa_enabled) + _characters(policy, password)
    if username and username.casefold() in password.casefold():
        found.append(Violation("contains_username", "The password may not contain your username."))
    if policy.forbid_common and _is_common(password):
        found.append(
            Violation(
                "common_password",
                "This password is among the most commonly used and breached passwords; "
                "choose another.",
            )
        )
    if policy.history and any(
        verify_password(password, h)[0] for h in list(previous_hashes)[: policy.history]
    ):
        found.append(
            Violation(
                "reused_password",
                f"The password may not be one of your last {policy.history} passwords.",
            )
        )
    return found


def _length(policy: PasswordPolicy, password: str, mfa_enabled: bool) -> list[Violation]:
    shortest = policy.min_length(mfa_enabled)
    if len(password) < shortest:
        hint = (
            ""
            if mfa_enabled or policy.min_length_with_mfa == shortest
            else " (or 8 once two-step sign-in is on)"
        )
        return [Violation("too_short", f"Use at least {shortest} characters{hint}.")]
    if len(password) > policy.max_length:
        return [Violation("too_long", f"Use at most {policy.max_length} characters.")]
    return []


def _characters(policy: PasswordPolicy, password: str) -> list[Violation]:
    found = []
    if not policy.allow_spaces and " " in password:
        found.append(Violation("contains_space", "The password may not contain spaces."))
    if any(not c.isprintable() for c in password):
        found.append(
            Violation("unprintable", "The password may contain only printable characters.")
        )
    if policy.allowed_symbols is not None:
        symbols = {c for c in password if not c.isalnum() and c != " "}
        if symbols - set(policy.allowed_symbols):
            found.append(
                Violation(
                    "symbol_not_allowed",
                    f"The only symbols allowed are {' '.join(policy.allowed_symbols)}.",
                )
            )
    if policy.min_character_classes:
        classes = sum(
            (
                any(c.isupper() for c in password),
                any(c.islower() for c in password),
                any(c.isdigit() for c in password),
                any(c in (policy.allowed_symbols or "") for c in password),
            )
        )
        if classes < policy.min_character_classes:
            found.append(
                Violation(
                    "character_classes",
                    "Use at least three of: an upper-case letter, a lower-case letter, a digit, "
                    "and one of @ . _ -.",
                )
            )
    return found


def _is_common(password: str) -> bool:
    lowered = password.lower()
    if len(set(lowered)) <= 2:
        return True
    return (
        lowered in _common_passwords() or lowered.rstrip(string.digits + "!") in _common_passwords()
    )


class PolicyViolation(ValueError):
    """A username or password breaks the policy; `violations` has every reason."""

    def __init__(self, violations: list[Violation]) -> None:
        super().__init__(" ".join(v.message for v in violations))
        self.violations = violations


async def policy_for(session: AsyncSession, user_id: str | None, default: str) -> PasswordPolicy:
    """The organization's override when its member has one, else the deployment's preset."""
    if user_id is not None:
        override = await session.scalar(
            select(Organization.password_policy)
            .join(Membership, Membership.organization_id == Organization.id)
            .where(Membership.user_id == user_id, Organization.password_policy.is_not(None))
            .order_by(Membership.created_at)
            .limit(1)
        )
        if override:
            return policy_named(override)
    return policy_named(default)


async def previous_hashes(session: AsyncSession, user_id: str, count: int) -> list[str]:
    if count <= 0:
        return []
    rows = await session.scalars(
        select(PasswordHistory.password_hash)
        .where(PasswordHistory.user_id == user_id)
        .order_by(PasswordHistory.created_at.desc(), PasswordHistory.id.desc())
        .limit(count)
    )
    return list(rows)
