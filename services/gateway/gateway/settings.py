"""Gateway settings: one pydantic-settings class, read from the environment."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from limits import parse_many
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from policy.forwarded import parse_proxies
from policy.observability import Telemetry

COOKIE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
SESSION_STORE_SCHEMES = ("memory", "redis", "rediss", "unix")
RATE_LIMIT_SCHEMES = ("memory", "redis", "rediss", "redis+unix", "redis+sentinel", "redis+cluster")


class Settings(Telemetry, BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", populate_by_name=True)

    environment: Literal["development", "test", "production"] = "development"
    issuer: str = Field(default="http://127.0.0.1:8000", validation_alias="TINPASS_ISSUER")
    jwks_uri: str = Field(default="", validation_alias="TINPASS_JWKS_URI")
    # This plan's APIs as an RFC 8707 resource: tokens for another plan are refused.
    audience: str = Field(
        default="https://api.cascade.plans.example", validation_alias="TINPASS_AUDIENCE"
    )
    # The JWKS is refreshed this often (seconds); keep it shorter than identity's
    # key_publication_lead_seconds so every key is known before it signs a token.
    jwks_refresh_interval: float = Field(default=300.0, gt=0)
    eligibility_url: str = "http://127.0.0.1:8001"
    claims_url: str = "http://127.0.0.1:8002"
    # Upstream connections: one pool per upstream (gateway.upstream), so a slow upstream
    # cannot starve another; seconds unless said otherwise.
    upstream_timeout: float = Field(default=10.0, gt=0)  # each read of an answer
    connect_timeout: float = Field(default=2.0, gt=0)
    # Waiting for a free connection of the upstream's pool; past it, 503 with Retry-After.
    pool_timeout: float = Field(default=2.0, gt=0)
    pool_retry_after: int = Field(default=1, ge=0)  # the Retry-After of that 503 (seconds)
    upstream_deadline: float = Field(default=30.0, gt=0)  # one whole upstream exchange
    # Connections each upstream's pool may open (requests to it at once); the upstream's
    # own setting, when given, replaces this one for it.
    max_connections: int = Field(default=100, ge=1)
    eligibility_max_connections: int | None = Field(default=None, ge=1)
    claims_max_connections: int | None = Field(default=None, ge=1)
    # Idle connections are kept for reuse (up to the pool's size) unless this is 0,
    # which closes each connection after its exchange.
    max_keepalive_connections: int = Field(default=100, ge=0)
    keepalive_expiry: float = Field(default=30.0, ge=0)
    max_body_bytes: int = 1_048_576
    # Rate limits (the `limits` library's notation, e.g. "600/minute;10000/hour";
    # empty turns that limit off). Counters live in memory, or in Redis when the
    # storage URL says redis://host:port/db, shared by every replica.
    rate_limit_per_client: str = "600/minute"
    rate_limit_per_address: str = "1200/minute"
    rate_limit_storage_url: str = "memory://"
    rate_limit_key_prefix: str = Field(default="tinpass-gateway", min_length=1)
    # Every Redis call (rate-limit counters, portal sessions): connect and answer within
    # this many seconds; while Redis is down it is tried again this often in the
    # background (docs/operations.md, "When Redis is down").
    redis_timeout: float = Field(default=0.5, gt=0)
    redis_retry_interval: float = Field(default=5.0, gt=0)
    # CORS: browser origins allowed to call the APIs ("https://app.example.org"),
    # as a JSON list or comma-separated; none by default.
    cors_allowed_origins: Annotated[list[str], NoDecode] = []
    cors_max_age: int = Field(default=600, ge=0)
    port: int = 8080
    # Proxies whose X-Forwarded-For/-Proto are believed: addresses or networks, comma-
    # separated (policy.forwarded). None by default: the connection's peer is the client.
    trusted_proxies: Annotated[list[str], NoDecode] = []
    # The plan's portal (gateway.portal): on when a client id is set.
    portal_client_id: str = ""
    portal_client_secret: str = ""
    portal_base_url: str = ""  # the gateway's public URL; http://127.0.0.1:<port> by default
    plan_name: str = "Cascade Health Plan"
    plan_contact: str = "the plan's Provider Network department, (800) 555-0142"
    # The portal's session cookie, one name per plan: cookies ignore ports, so two
    # portals on one host (the demo's :8080 and :8081) would otherwise overwrite each
    # other's. Empty: portal_session_<the plan's name as a slug>. Behind https the
    # cookie is `__Host-<name>` (Secure, Path=/, no Domain: set by this host only).
    portal_cookie_name: str = ""
    portal_session_ttl: int = Field(default=8 * 60 * 60, gt=0)
    portal_idle_timeout: int = Field(default=30 * 60, gt=0)
    # The memory store's cap (sessions in this process; at the cap the least recently
    # used is dropped). A signed-in session takes a few KB (its tokens), so 100,000
    # are a few hundred MB at most; an anonymous visit to /portal/login makes one too.
    portal_max_sessions: int = Field(default=100_000, ge=1)
    # Where portal sessions live: memory:// (this process only: one worker) or a Redis
    # URL shared by every worker and replica (keys under rate_limit_key_prefix).
    portal_session_store_url: str = "memory://"

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies(cls, value: Any) -> list[str]:
        return parse_proxies(value)

    @field_validator("rate_limit_per_client", "rate_limit_per_address")
    @classmethod
    def _rate(cls, value: str) -> str:
        value = value.strip()
        if value:
            try:
                parse_many(value)
            except ValueError as error:
                raise ValueError(
                    f"{value!r} is not a rate limit; write it like '600/minute' or "
                    "'100/second;5000/hour', or leave it empty for no limit"
                ) from error
        return value

    @field_validator("rate_limit_storage_url")
    @classmethod
    def _storage(cls, value: str) -> str:
        scheme = value.removeprefix("async+").split("://", 1)[0]
        if "://" not in value or scheme not in RATE_LIMIT_SCHEMES:
            raise ValueError(
                f"rate limit storage must be memory:// or a Redis URL such as "
                f"redis://127.0.0.1:6379/0, not {value!r}"
            )
        return value

    @field_validator("portal_session_store_url")
    @classmethod
    def _session_store(cls, value: str) -> str:
        if value.split("://", 1)[0] not in SESSION_STORE_SCHEMES or "://" not in value:
            raise ValueError(
                f"the portal session store must be memory:// or a Redis URL such as "
                f"redis://127.0.0.1:6379/0, not {value!r}"
            )
        return value

    @field_validator("portal_cookie_name")
    @classmethod
    def _cookie_name(cls, value: str) -> str:
        value = value.strip()
        if value and (
            not COOKIE_NAME.fullmatch(value) or value.lower().startswith(("__host-", "__secure-"))
        ):
            raise ValueError(
                f"{value!r} is not a portal cookie name; use up to 64 letters, digits, '_' "
                "or '-' (the __Host- prefix is added behind https), e.g. portal_session_cascade"
            )
        return value

    @field_validator("cors_allowed_origins", mode="before")
    @classmethod
    def _origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("cors_allowed_origins")
    @classmethod
    def _each_origin(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            parts = urlsplit(origin)
            if (
                parts.scheme not in ("http", "https")
                or not parts.hostname
                or parts.path
                or parts.query
                or parts.fragment
                or parts.username
            ):
                raise ValueError(
                    f"{origin!r} is not an origin; list each one as scheme://host[:port], "
                    "e.g. https://portal.example.org, without a path or trailing slash"
                )
        return origins

    @model_validator(mode="after")
    def _derive(self) -> Settings:
        if not self.jwks_uri:
            self.jwks_uri = self.issuer.rstrip("/") + "/.well-known/jwks.json"
        if not self.portal_base_url:
            self.portal_base_url = f"http://127.0.0.1:{self.port}"
        self.portal_base_url = self.portal_base_url.rstrip("/")
        if not self.portal_cookie_name:
            self.portal_cookie_name = "portal_session_" + _slug(self.plan_name, self.audience)
        if self.environment == "production" and not self.issuer.startswith("https://"):
            raise ValueError("TINPASS_ISSUER must be an https URL outside development")
        return self

    @property
    def portal_enabled(self) -> bool:
        return bool(self.portal_client_id)

    @property
    def portal_secure_cookies(self) -> bool:
        return self.portal_base_url.startswith("https://")

    @property
    def portal_cookie(self) -> str:
        """The session cookie's name as the browser sees it."""
        prefix = "__Host-" if self.portal_secure_cookies else ""
        return prefix + self.portal_cookie_name

    @property
    def portal_cookie_path(self) -> str:
        """`__Host-` cookies must have Path=/; over plain http the portal's paths only."""
        return "/" if self.portal_secure_cookies else "/portal"


def _slug(name: str, fallback: str) -> str:
    """`Cascade Health Plan` -> `cascade_health_plan`; a name without ASCII letters or
    digits -> a short digest of the plan's resource (still one per plan)."""
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:40].rstrip("_")
    return slug or hashlib.sha256(fallback.encode()).hexdigest()[:12]
