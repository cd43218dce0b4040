"""Settings come from the environment variables named in docs/architecture.md."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from provider_data.platform.settings import Settings

VARIABLES = ("DATABASE_URL", "TINPASS_ISSUER", "TINPASS_JWKS_URI", "TINPASS_AUDIENCE", "PLAN_NAME")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (
        *VARIABLES,
        "PROVIDER_DATA_ENVIRONMENT",
        "PROVIDER_DATA_AUDIT_SIGNING_KEY_FILE",
        "PROVIDER_DATA_AUDIT_CHECKPOINT_DIR",
    ):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_defaults(clean_env: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert settings.environment == "development"
    assert settings.database_url == "sqlite+aiosqlite:///data/plan.db"
    assert settings.issuer == "http://127.0.0.1:8000"
    assert settings.jwks_uri == "http://127.0.0.1:8000/.well-known/jwks.json"
    assert (settings.audience, settings.plan_name) == (
        "https://api.cascade.plans.example",
        "Cascade Health Plan",
    )


def test_environment_variables(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("DATABASE_URL", "postgresql+asyncpg://plan@db/plan")
    clean_env.setenv("TINPASS_ISSUER", "https://id.example.org/")
    clean_env.setenv("TINPASS_AUDIENCE", "cascade-api")
    clean_env.setenv("PLAN_NAME", "Harbor Health")
    clean_env.setenv("PROVIDER_DATA_ENVIRONMENT", "production")
    clean_env.setenv("PROVIDER_DATA_AUDIT_SIGNING_KEY_FILE", "/run/secrets/audit-key.pem")
    clean_env.setenv("PROVIDER_DATA_AUDIT_CHECKPOINT_DIR", "/var/lib/plan/audit-checkpoints")
    settings = Settings()
    assert settings.database_url == "postgresql+asyncpg://plan@db/plan"
    assert settings.jwks_uri == "https://id.example.org/.well-known/jwks.json"
    assert (settings.audience, settings.plan_name) == ("cascade-api", "Harbor Health")
    clean_env.setenv("TINPASS_JWKS_URI", "https://keys.example.org/jwks")
    assert Settings().jwks_uri == "https://keys.example.org/jwks"


def test_production_needs_an_https_issuer(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("PROVIDER_DATA_ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="https"):
        Settings()


def test_production_needs_the_audit_signing_key_and_checkpoint_directory(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv("PROVIDER_DATA_ENVIRONMENT", "production")
    clean_env.setenv("TINPASS_ISSUER", "https://id.example.org")
    with pytest.raises(ValidationError, match="PROVIDER_DATA_AUDIT_SIGNING_KEY_FILE"):
        Settings()
    clean_env.setenv("PROVIDER_DATA_AUDIT_SIGNING_KEY_FILE", "/run/secrets/audit-key.pem")
    with pytest.raises(ValidationError, match="PROVIDER_DATA_AUDIT_CHECKPOINT_DIR"):
        Settings()
    clean_env.setenv("PROVIDER_DATA_AUDIT_CHECKPOINT_DIR", "/var/lib/plan/audit-checkpoints")
    assert Settings().audit_seal_interval == 0.2


def test_guessing_limits(clean_env: pytest.MonkeyPatch) -> None:
    defaults = Settings()
    assert (
        defaults.failed_match_limit_per_member,
        defaults.failed_match_limit_per_client,
        defaults.failed_match_window,
    ) == (5, 25, 900)
    clean_env.setenv("PROVIDER_DATA_FAILED_MATCH_LIMIT_PER_MEMBER", "3")
    clean_env.setenv("PROVIDER_DATA_FAILED_MATCH_LIMIT_PER_CLIENT", "10")
    clean_env.setenv("PROVIDER_DATA_FAILED_MATCH_WINDOW", "3600")
    settings = Settings()
    assert settings.failed_match_limit_per_member == 3
    assert (settings.failed_match_limit_per_client, settings.failed_match_window) == (10, 3600)
    clean_env.setenv("PROVIDER_DATA_FAILED_MATCH_LIMIT_PER_MEMBER", "0")
    with pytest.raises(ValidationError, match="failed_match_limit_per_member"):
        Settings()
