"""RFC 8707 resource indicators: clients' resources, resource on codes and refresh tokens

Each client lists the resources (health plans' APIs) it may ask for, its default
first; an authorization code and a refresh token keep the resources granted, so a
token request may narrow them but never widen them. Clients registered before
this revision have none (their tokens name no plan) until an operator assigns
them (`identity set-resources`).

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("clients", "authorization_codes", "refresh_tokens")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("resources", sa.JSON(), nullable=False, server_default="[]")
            )


def downgrade() -> None:
    for table in reversed(TABLES):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("resources")
