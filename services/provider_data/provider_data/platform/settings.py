"""Provider-data settings: one pydantic-settings class, read from the environment."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from policy.dbpool import DatabasePool
from policy.forwarded import parse_proxies
from policy.observability import Telemetry


class Settings(DatabasePool, Telemetry, BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PROVIDER_DATA_", extra="ignore", populate_by_name=True
    )

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = Field(
        default="sqlite+aiosqlite:///data/plan.db", validation_alias="DATABASE_URL"
    )
    issuer: str = Field(default="http://127.0.0.1:8000", validation_alias="TINPASS_ISSUER")
    jwks_uri: str = Field(default="", validation_alias="TINPASS_JWKS_URI")
    # This plan's APIs as an RFC 8707 resource: tokens for another plan are refused.
    audience: str = Field(
        default="https://api.cascade.plans.example", validation_alias="TINPASS_AUDIENCE"
    )
    # The JWKS is refreshed this often (seconds); keep it shorter than identity's
    # key_publication_lead_seconds so every key is known before it signs a token.
    jwks_refresh_interval: float = Field(default=300.0, gt=0)
    plan_name: str = Field(default="Cascade Health Plan", validation_alias="PLAN_NAME")
    # `seed-demo` adds a generated plan of this size on top of the fixed demo (0: none).
    demo_members: int = Field(default=1000, ge=0)
    demo_providers: int = Field(default=60, ge=0)
    demo_claims: int = Field(default=3000, ge=0)
    demo_seed: int = 2026
    # Proxies whose X-Forwarded-For/-Proto are believed: addresses or networks, comma-
    # separated (policy.forwarded). None by default: the connection's peer is the client.
    trusted_proxies: Annotated[list[str], NoDecode] = []
    # Date-of-birth guessing (provider_data.domain.guessing): failed member matches allowed per
    # member (whoever asks) and per client within a window of seconds, then 429.
    failed_match_limit_per_member: int = Field(default=5, ge=1)
    failed_match_limit_per_client: int = Field(default=25, ge=1)
    failed_match_window: int = Field(default=900, ge=1)
    # Plans, products, benefits and limits are cached in each process for at most this
    # many seconds (provider_data.reads.reference): how long another process's change waits.
    reference_cache_seconds: float = Field(default=60.0, ge=0)
    # The access trail (provider_data.platform.audit, policy.sealing): the sealer chains committed
    # events every audit_seal_interval seconds (at most audit_seal_batch a time) and every
    # audit_checkpoint_interval seconds signs the chain's head with the Ed25519 key in
    # audit_signing_key_file (never in the database) into audit_checkpoint_dir. Both are
    # required outside development; there, empty means a key and directory made for the
    # database (beside an SQLite file, else in the temporary directory).
    audit_signing_key_file: str = ""
    audit_checkpoint_dir: str = ""
    audit_seal_interval: float = Field(default=0.2, gt=0)
    audit_seal_batch: int = Field(default=1000, ge=1)
    audit_checkpoint_interval: float = Field(default=60.0, gt=0)
    # Access events of read-only requests (eligibility answers, claim reads, denials) are
    # written together by a group-commit writer, at most audit_batch_size per INSERT and
    # COMMIT (policy.audit_batch); 0 writes each in its request's own transaction instead.
    audit_batch_size: int = Field(default=256, ge=0, le=2000)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies(cls, value: Any) -> list[str]:
        return parse_proxies(value)

    @model_validator(mode="after")
    def _derive_jwks_uri(self) -> Settings:
        if not self.jwks_uri:
            self.jwks_uri = self.issuer.rstrip("/") + "/.well-known/jwks.json"
        if self.environment == "production" and not self.issuer.startswith("https://"):
            raise ValueError("TINPASS_ISSUER must be an https URL outside development")
        if self.environment == "production":
            missing = [
                name
                for name, value in (
                    ("PROVIDER_DATA_AUDIT_SIGNING_KEY_FILE", self.audit_signing_key_file),
                    ("PROVIDER_DATA_AUDIT_CHECKPOINT_DIR", self.audit_checkpoint_dir),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"set {', '.join(missing)}: required outside development")
        return self
