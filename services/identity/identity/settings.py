"""Identity settings: one pydantic-settings class, read from environment variables.

Outside development the class refuses the built-in development secrets, so a
deployment cannot start with a key everybody knows.
"""

from __future__ import annotations

import re
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from policy.dbpool import DatabasePool
from policy.forwarded import parse_proxies
from policy.observability import Telemetry

DEV_SECRET_KEY = "dev-only-secret-key-change-me-0123456789abcdef"
DEV_KEY_ENCRYPTION_KEY = "dev-only-key-encryption-key-change-me-0123456789"
DEV_CLIENT_SECRET_PEPPER = "dev-only-client-secret-pepper-change-me-0123456789"
# RFC 8707 resource indicators of the demo's two health plans (each plan's APIs are one resource).
CASCADE_RESOURCE = "https://api.cascade.plans.example"
SUMMIT_RESOURCE = "https://api.summit.plans.example"
DEMO_RESOURCES = {CASCADE_RESOURCE: "Cascade Health Plan", SUMMIT_RESOURCE: "Summit Health Plan"}
RESOURCE_URI_MAX = 255


URI_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")


def resource_uri_error(value: str) -> str | None:
    """Why `value` is no resource indicator: an absolute URI without a fragment (RFC 8707 §2)."""
    if not value or len(value) > RESOURCE_URI_MAX:
        return f"a resource is a URI of 1 to {RESOURCE_URI_MAX} characters"
    # Printable ASCII holds one whitespace character, the space.
    if not (value.isascii() and value.isprintable()) or " " in value:
        return "a resource URI has no spaces, control or non-ASCII characters"
    scheme, colon, rest = value.partition(":")
    if not colon or not rest or not URI_SCHEME.fullmatch(scheme):
        return "a resource must be an absolute URI (with a scheme, e.g. https://...)"
    if "#" in value:
        return "a resource URI must not have a fragment"
    return None


class Settings(DatabasePool, Telemetry, BaseSettings):
    """Everything the identity service reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="IDENTITY_", extra="ignore", populate_by_name=True)

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = Field(
        default="sqlite+aiosqlite:///data/identity.db",
        validation_alias="DATABASE_URL",
    )
    issuer: str = Field(default="http://127.0.0.1:8000", validation_alias="TINPASS_ISSUER")
    # The protected resources (one per health plan) tokens may be issued for: URI -> name.
    # JSON in IDENTITY_RESOURCES; a client uses those registered on it (RFC 8707).
    resources: dict[str, str] = Field(default_factory=lambda: dict(DEMO_RESOURCES))
    host: str = "127.0.0.1"
    port: int = 8000

    secret_key: str = DEV_SECRET_KEY
    key_encryption_key: str = DEV_KEY_ENCRYPTION_KEY
    client_secret_pepper: str = DEV_CLIENT_SECRET_PEPPER
    # ID tokens (and back-channel logout tokens) are signed with `signing_alg`, access
    # tokens with `access_token_alg` (RFC 9068 requires RS256 to be available; ES256 is
    # cheaper to sign). Each algorithm has its own key, rotated together (identity.keys).
    signing_alg: Literal["RS256", "ES256"] = "RS256"
    access_token_alg: Literal["RS256", "ES256"] = "ES256"

    access_token_ttl: int = 300
    # Beyond this many TINs a token's TIN lists are one space-delimited string and a
    # user of several organizations gets one organization's context (token size).
    token_tin_array_limit: int = Field(default=100, ge=1)
    id_token_ttl: int = 300
    refresh_token_ttl: int = 60 * 60 * 24 * 14
    authorization_code_ttl: int = 60
    sso_session_ttl: int = 60 * 60 * 8
    client_assertion_max_lifetime: int = 300
    key_cache_seconds: float = 15.0
    # Clients (secret digest, grant types, TINs) are cached per process this long; a
    # change made by another replica takes effect within it (this process: at commit).
    client_cache_seconds: float = Field(default=5.0, ge=0)
    # A `next` key is published at least this long before `rotate-keys` makes it sign.
    # Keep it above every verifier's JWKS refresh interval (gateway and provider data
    # `jwks_refresh_interval`, 300 s) + key_cache_seconds + the JWKS max-age (60 s).
    key_publication_lead_seconds: int = Field(default=900, ge=0)

    password_policy: Literal["nist", "payer-classic"] = "nist"
    # Password hashes (argon2id) at once per worker process, in threads of their own
    # (identity.security). 0: one per CPU. With several workers, CPUs / workers fits best.
    password_hash_threads: int = Field(default=0, ge=0)
    lockout_threshold: int = 5
    lockout_base_seconds: int = 300
    lockout_max_seconds: int = 86_400
    login_rate_limit: str = "20/minute"
    token_rate_limit: str = "300/minute"
    rate_limit_storage: str = "memory://"
    # The throttle's Redis keys begin with this (one per stack sharing a Redis).
    rate_limit_key_prefix: str = Field(default="tinpass-identity", min_length=1)
    # Every Redis call (rate-limit counters): connect and answer within this many
    # seconds, else the counters fall back to this process's memory; while they do,
    # Redis is tried again this often in the background (docs/operations.md).
    redis_timeout: float = Field(default=0.5, gt=0)
    redis_retry_interval: float = Field(default=5.0, gt=0)
    # Forgot password/username: requests per source address, and mails per account.
    recovery_rate_limit: str = "20/hour"
    recovery_account_rate_limit: str = "3/hour"
    recovery_queue_size: int = Field(default=1000, ge=1)
    # Invitations (nominations and resends) per organization and per invited address.
    invitation_rate_limit_per_organization: str = "50/hour"
    invitation_rate_limit_per_address: str = "3/day"
    sso_idle_timeout: int = 30 * 60
    # Changing or removing a second factor needs a sign-in with the current factors no
    # older than this (seconds), or the password and a current code given again.
    mfa_reauth_max_age: int = Field(default=300, ge=0)
    refresh_grace_seconds: int = 10
    backchannel_interval: float = 1.0
    # The janitor (identity.janitor): seconds between rounds on each replica (0: never;
    # `identity janitor` runs one round), rows per DELETE, and how long revoked refresh
    # tokens and ended SSO sessions are kept after revocation or end (seconds).
    janitor_interval: float = Field(default=60.0, ge=0)
    janitor_batch_size: int = Field(default=1000, ge=1)
    janitor_retention: int = Field(default=24 * 60 * 60, ge=0)
    # The admin API keeps the answer to a request with an Idempotency-Key this long
    # (seconds); the janitor deletes it after.
    idempotency_key_ttl: int = Field(default=24 * 60 * 60, ge=60)
    reset_link_ttl: int = 30 * 60
    email_link_ttl: int = 24 * 60 * 60
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_starttls: bool = True
    smtp_username: str | None = None
    smtp_password: str | None = None
    mail_from: str = "TINpass <no-reply@tinpass.example>"
    outbox_dir: str = "data/outbox"
    # Proxies whose X-Forwarded-For/-Proto are believed: addresses or networks, comma-
    # separated (policy.forwarded). None by default: the connection's peer is the client.
    trusted_proxies: Annotated[list[str], NoDecode] = []
    # The audit trail (identity.audit, policy.sealing): the sealer chains committed events
    # every audit_seal_interval seconds (at most audit_seal_batch a time) and every
    # audit_checkpoint_interval seconds signs the chain's head with the Ed25519 key in
    # audit_signing_key_file (never in the database) into audit_checkpoint_dir. Both are
    # required outside development; there, empty means a key and directory made for the
    # database (beside an SQLite file, else in the temporary directory).
    audit_signing_key_file: str = ""
    audit_checkpoint_dir: str = ""
    audit_seal_interval: float = Field(default=0.2, gt=0)
    audit_seal_batch: int = Field(default=1000, ge=1)
    audit_checkpoint_interval: float = Field(default=60.0, gt=0)
    # Events of requests that changed nothing (client_credentials tokens) are written
    # together by a group-commit writer, at most audit_batch_size per INSERT and COMMIT
    # (policy.audit_batch); 0 writes each in its request's own transaction instead.
    audit_batch_size: int = Field(default=256, ge=0, le=2000)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies(cls, value: Any) -> list[str]:
        return parse_proxies(value)

    @field_validator("resources")
    @classmethod
    def _resources_are_uris(cls, value: dict[str, str]) -> dict[str, str]:
        for uri in value:
            error = resource_uri_error(uri)
            if error:
                raise ValueError(f"IDENTITY_RESOURCES: {uri!r}: {error}")
        return value

    @model_validator(mode="after")
    def _refuse_dev_secrets_outside_development(self) -> Settings:
        if self.environment == "development" or self.environment == "test":
            return self
        defaults = {
            "IDENTITY_SECRET_KEY": (self.secret_key, DEV_SECRET_KEY),
            "IDENTITY_KEY_ENCRYPTION_KEY": (self.key_encryption_key, DEV_KEY_ENCRYPTION_KEY),
            "IDENTITY_CLIENT_SECRET_PEPPER": (
                self.client_secret_pepper,
                DEV_CLIENT_SECRET_PEPPER,
            ),
        }
        bad = [name for name, (value, default) in defaults.items() if value == default]
        for name, value in (
            ("IDENTITY_AUDIT_SIGNING_KEY_FILE", self.audit_signing_key_file),
            ("IDENTITY_AUDIT_CHECKPOINT_DIR", self.audit_checkpoint_dir),
        ):
            if not value:
                bad.append(name)
        if bad:
            raise ValueError(f"set {', '.join(bad)}: the development defaults are refused here")
        return self

    @cached_property
    def secure_cookies(self) -> bool:
        return self.issuer.startswith("https://")

    @property
    def max_token_lifetime(self) -> int:
        """The longest a JWT signed by a key can stay valid (for key retirement)."""
        return max(self.access_token_ttl, self.id_token_ttl)
