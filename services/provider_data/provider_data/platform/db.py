"""Database engine, sessions and Alembic migrations for the plan's data.

The engine and sessions are `policy.dbpool`'s (the same for every service).
Alembic is the only way the schema is made (`migrate`); the version table is the
service's own, so the plan's tables can share a PostgreSQL database. PostgreSQL
engines are pooled as `policy.dbpool` says (PROVIDER_DATA_DB_POOL_SIZE and the others).
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from policy.dbpool import create_engine, prepare_sqlite_folder, session_factory

__all__ = ["VERSION_TABLE", "create_engine", "migrate", "session_factory"]

VERSION_TABLE = "provider_data_alembic_version"


def migrate(url: str, revision: str = "head") -> None:
    """Bring the database at `url` to `revision` (synchronous; uses its own loop)."""
    prepare_sqlite_folder(url)
    config = Config()
    config.set_main_option("script_location", "provider_data:migrations")
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, revision)
