"""Gateway settings: one pydantic-settings class, read from the environment."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", populate_by_name=True)

    environment: Literal["development", "test", "production"] = "development"
    issuer: str = Field(default="http://127.0.0.1:8000", validation_alias="TINPASS_ISSUER")
    jwks_uri: str = Field(default="", validation_alias="TINPASS_JWKS_URI")
    audience: str = Field(default="provider-data", validation_alias="TINPASS_AUDIENCE")
    eligibility_url: str = "http://127.0.0.1:8001"
    claims_url: str = "http://127.0.0.1:8002"
    upstream_timeout: float = 10.0
    connect_timeout: float = 2.0
    max_connections: int = 100
    max_body_bytes: int = 1_048_576
    port: int = 8080

    @model_validator(mode="after")
    def _derive(self) -> Settings:
        if not self.jwks_uri:
            self.jwks_uri = self.issuer.rstrip("/") + "/.well-known/jwks.json"
        if self.environment == "production" and not self.issuer.startswith("https://"):
            raise ValueError("TINPASS_ISSUER must be an https URL outside development")
        return self
