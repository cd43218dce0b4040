"""Bearer header parsing and the WWW-Authenticate challenge (RFC 6750)."""

from __future__ import annotations

import pytest

from policy import InvalidToken
from policy.rfc6750 import bearer_token, www_authenticate


def test_bearer_token() -> None:
    assert bearer_token("Bearer abc.def.ghi") == "abc.def.ghi"
    assert bearer_token("bearer abc") == "abc"


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer", "Bearer a b"])
def test_malformed_or_missing(header: str | None) -> None:
    with pytest.raises(InvalidToken) as caught:
        bearer_token(header)
    assert caught.value.error == "invalid_request"


def test_challenge_without_error_when_no_token_was_sent() -> None:
    assert www_authenticate(None, None) == 'Bearer realm="tinpass"'


def test_challenge_with_error() -> None:
    value = www_authenticate("invalid_token", 'token "expired"')
    assert (
        value
        == 'Bearer realm="tinpass", error="invalid_token", error_description="token \'expired\'"'
    )
