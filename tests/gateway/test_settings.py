"""The gateway's settings: defaults, environment spellings, actionable refusals."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from gateway.settings import Settings


def test_defaults() -> None:
    settings = Settings()
    assert settings.rate_limit_storage_url == "memory://"
    assert settings.rate_limit_per_client == "600/minute"
    assert settings.rate_limit_per_address == "1200/minute"
    assert settings.cors_allowed_origins == []
    assert (settings.connect_timeout, settings.upstream_timeout) == (2.0, 10.0)


def test_environment_spellings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_RATE_LIMIT_STORAGE_URL", "redis://127.0.0.1:6379/2")
    monkeypatch.setenv("GATEWAY_RATE_LIMIT_PER_CLIENT", "100/second;5000/hour")
    monkeypatch.setenv("GATEWAY_CORS_ALLOWED_ORIGINS", "https://a.example, http://localhost:3000")
    monkeypatch.setenv("GATEWAY_UPSTREAM_TIMEOUT", "4.5")
    settings = Settings()
    assert settings.rate_limit_storage_url == "redis://127.0.0.1:6379/2"
    assert settings.rate_limit_per_client == "100/second;5000/hour"
    assert settings.cors_allowed_origins == ["https://a.example", "http://localhost:3000"]
    assert settings.upstream_timeout == 4.5
    monkeypatch.setenv("GATEWAY_CORS_ALLOWED_ORIGINS", '["https://b.example"]')
    assert Settings().cors_allowed_origins == ["https://b.example"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("rate_limit_per_client", "lots", "write it like '600/minute'"),
        ("rate_limit_storage_url", "memcached://x:11211", "memory:// or a Redis URL"),
        ("cors_allowed_origins", ["https://a.example/"], "without a path or trailing slash"),
        ("cors_allowed_origins", ["*"], "is not an origin"),
        ("upstream_timeout", 0, "greater than 0"),
    ],
)
def test_refusals_say_what_to_write(field: str, value: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(**{field: value})
