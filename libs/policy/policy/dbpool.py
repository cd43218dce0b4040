"""Connection-pool settings for a service's PostgreSQL engine (identity, provider data).

Each worker process keeps `pool_size` connections open and opens up to
`max_overflow` more under bursts (closed again when returned); a request waits at
most `pool_timeout` seconds for one. Connections are replaced after
`pool_recycle` seconds, below the idle timeouts of firewalls and poolers.

Checkouts are not pinged by default (`pool_pre_ping` costs a round trip per
checkout): a connection found broken is discarded by SQLAlchemy together with
every connection opened before it, so after a database restart the requests in
flight fail and the next ones connect afresh. Turn it on where something between
the service and the database drops idle connections silently.

SQLite engines keep SQLAlchemy's defaults (one file, no server to pool against).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, model_validator


class DatabasePool(BaseModel):
    """Mixed into a service's Settings: `<PREFIX>DB_POOL_SIZE` and the others."""

    db_pool_size: int = Field(default=20, ge=1, le=1000)
    db_max_overflow: int = Field(default=10, ge=0, le=1000)
    db_pool_timeout: float = Field(default=10.0, gt=0, le=300)
    db_pool_recycle: int = Field(default=1800, ge=-1)
    db_pool_pre_ping: bool = False

    @model_validator(mode="after")
    def _recycle_is_positive_or_off(self) -> DatabasePool:
        if self.db_pool_recycle == 0:
            raise ValueError("DB_POOL_RECYCLE: seconds (at least 1), or -1 for never")
        return self

    def engine_options(self) -> dict[str, Any]:
        """Keyword arguments for `create_async_engine` (server databases only)."""
        return {
            "pool_size": self.db_pool_size,
            "max_overflow": self.db_max_overflow,
            "pool_timeout": self.db_pool_timeout,
            "pool_recycle": self.db_pool_recycle,
            "pool_pre_ping": self.db_pool_pre_ping,
        }
