"""Alembic migrations of the identity database."""
