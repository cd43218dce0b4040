"""Database engine, sessions and Alembic migrations for the identity service.

The engine and sessions are `policy.dbpool`'s (the same for every service).
Alembic is the only way the schema is made (`migrate`); the same code runs on
SQLite (aiosqlite) and PostgreSQL (asyncpg). PostgreSQL engines are pooled as
`policy.dbpool` says (IDENTITY_DB_POOL_SIZE and the others).
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from policy.dbpool import create_engine, prepare_sqlite_folder, session_factory

__all__ = ["VERSION_TABLE", "create_engine", "migrate", "session_factory"]

VERSION_TABLE = "identity_alembic_version"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", "identity:migrations")
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["version_table"] = VERSION_TABLE
    return config


def migrate(url: str, revision: str = "head") -> None:
    """Bring the database at `url` to `revision` (synchronous; uses its own loop)."""
    prepare_sqlite_folder(url)
    command.upgrade(alembic_config(url), revision)
