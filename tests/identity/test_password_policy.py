"""Every password and username rule of both presets, each with its own message."""

from __future__ import annotations

import pytest

from identity.password_policy import PRESETS, check_password, check_username, policy_named
from identity.security import hash_password

NIST, CLASSIC = PRESETS["nist"], PRESETS["payer-classic"]


def codes(
    policy_name: str,
    password: str,
    *,
    username: str = "sam.biller",
    mfa: bool = False,
    history: tuple[str, ...] = (),
) -> set[str]:
    found = check_password(
        PRESETS[policy_name], password, username=username, mfa_enabled=mfa, previous_hashes=history
    )
    assert all(v.message for v in found)
    return {v.code for v in found}


def test_nist_accepts_a_long_passphrase_with_spaces_and_any_characters() -> None:
    assert codes("nist", "correct horse battery staple ✓") == set()


def test_nist_minimum_is_15_alone_and_8_with_mfa() -> None:
    assert codes("nist", "Unusual-Pass9") == {"too_short"}
    assert codes("nist", "Unusual-Pass9", mfa=True) == set()
    assert codes("nist", "Unusu4l", mfa=True) == {"too_short"}


def test_nist_allows_at_least_64_characters() -> None:
    assert codes("nist", "q" * 5 + "w" * 59 + "xyz") == set()
    assert codes("nist", "abcdefghij-" * 12) == {"too_long"}


def test_nist_has_no_composition_rules() -> None:
    assert codes("nist", "alllowercaselettersonlyhere") == set()


def test_nist_refuses_common_and_breached_passwords() -> None:
    assert "common_password" in codes("nist", "password", mfa=True)
    assert "common_password" in codes("nist", "qwerty123456789", mfa=True)
    assert "common_password" in codes("nist", "aaaaaaaaaaaaaaaaaa")


def test_nist_refuses_the_username_inside() -> None:
    assert codes("nist", "my-Sam.Biller-passphrase") == {"contains_username"}


def test_classic_length_8_to_32() -> None:
    assert codes("payer-classic", "Ab1.") == {"too_short"}
    assert codes("payer-classic", "Ab1." * 9) == {"too_long"}
    assert codes("payer-classic", "Abcdefg1") == set()


def test_classic_no_spaces() -> None:
    assert codes("payer-classic", "Abc defg1") == {"contains_space"}


def test_classic_three_of_four_character_classes() -> None:
    assert codes("payer-classic", "abcdefgh1") == {"character_classes"}
    assert codes("payer-classic", "abcdefgh1.") == set()
    assert codes("payer-classic", "ABCDEFGH1.") == set()


def test_classic_allows_only_the_listed_symbols() -> None:
    assert codes("payer-classic", "Abcdefg1!") == {"symbol_not_allowed"}
    assert codes("payer-classic", "Ab_c-d.e@f1") == set()


def test_classic_refuses_the_username_and_is_case_sensitive_about_it() -> None:
    assert codes("payer-classic", "Xsam.billerX1") == {"contains_username"}
    assert codes("payer-classic", "XSAM.BILLERx1") == {"contains_username"}


def test_classic_refuses_the_last_five_passwords() -> None:
    history = tuple(hash_password(p) for p in ("Older.Pass1", "Recent.Pass1"))
    assert codes("payer-classic", "Recent.Pass1", history=history) == {"reused_password"}
    assert codes("payer-classic", "Brand.New.Pass1", history=history) == set()


def test_several_violations_are_all_reported() -> None:
    assert codes("payer-classic", "sam.biller !") == {
        "contains_space",
        "character_classes",
        "symbol_not_allowed",
        "contains_username",
    }


@pytest.mark.parametrize(
    ("username", "expected"),
    [
        ("sam.b", set()),
        ("sambiller10", {"username_length"}),
        ("sam", {"username_length"}),
        ("sam*b1", {"username_characters"}),
        ("sam b1", {"username_characters"}),
    ],
)
def test_classic_usernames(username: str, expected: set[str]) -> None:
    assert {v.code for v in check_username(CLASSIC, username)} == expected


def test_unknown_preset_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="use one of nist, payer-classic"):
        policy_named("lenient")
    assert policy_named("nist") is NIST
