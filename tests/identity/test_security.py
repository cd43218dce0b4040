"""Password hashing, client secrets, digests and Tax ID formats."""

from __future__ import annotations

import pytest
from passlib.hash import argon2, bcrypt

from identity.security import (
    client_secret_digest,
    format_tin,
    hash_password,
    normalize_tin,
    verify_client_secret,
    verify_password,
)
from tests.support.digits import arabic_indic, full_width


def test_argon2id_hash_verifies() -> None:
    hashed = hash_password("correct horse battery staple")
    assert hashed.startswith("$argon2id$")
    assert verify_password("correct horse battery staple", hashed) == (True, None)
    assert verify_password("wrong", hashed) == (False, None)


def test_bcrypt_import_verifies_and_is_rehashed() -> None:
    imported = bcrypt.hash("imported-password")
    ok, new_hash = verify_password("imported-password", imported)
    assert ok and new_hash is not None and new_hash.startswith("$argon2id$")


def test_weaker_argon2_parameters_are_rehashed() -> None:
    weak = argon2.using(type="ID", memory_cost=1024, time_cost=1, parallelism=1).hash(
        "pw-123456789"
    )
    ok, new_hash = verify_password("pw-123456789", weak)
    assert ok and new_hash is not None and new_hash != weak


def test_unknown_user_verifies_against_a_dummy() -> None:
    assert verify_password("anything", None) == (False, None)


def test_client_secret_digest_is_keyed_and_compared_safely() -> None:
    digest = client_secret_digest("s3cret", "pepper")
    assert digest != client_secret_digest("s3cret", "other-pepper")
    assert verify_client_secret("s3cret", digest, "pepper")
    assert not verify_client_secret("s3cret!", digest, "pepper")
    assert not verify_client_secret("s3cret", None, "pepper")


@pytest.mark.parametrize(
    ("given", "stored"), [("12-3456789", "123456789"), ("123456789", "123456789")]
)
def test_tins_are_stored_without_separators(given: str, stored: str) -> None:
    assert normalize_tin(given) == stored
    assert format_tin(stored) == "12-3456789"


@pytest.mark.parametrize(
    "bad",
    [
        "12345678",
        "1234567890",
        "12-34567a9",
        "123-456789",
        "",
        full_width("12-3456789"),  # pass str.isdigit() and regex \d
        arabic_indic("123456789"),
    ],
)
def test_bad_tins_are_refused_with_a_clear_message(bad: str) -> None:
    with pytest.raises(ValueError, match="nine digits"):
        normalize_tin(bad)
