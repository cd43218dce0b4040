"""Alembic migrations of the plan's database."""
