"""registration and verification: organization profile, operator decisions, shared TINs

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROFILE = [
    ("street", sa.String(200)),
    ("city", sa.String(100)),
    ("state", sa.String(2)),
    ("postal_code", sa.String(10)),
    ("phone", sa.String(32)),
]
# 0001 left the TIN's unique constraint unnamed; SQLite's batch mode names it by convention.
UNNAMED = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _old_unique() -> str:
    return "tax_ids_tin_key" if op.get_bind().dialect.name == "postgresql" else "uq_tax_ids_tin"


def upgrade() -> None:
    with op.batch_alter_table("organizations") as batch:
        for name, kind in PROFILE:
            batch.add_column(sa.Column(name, kind, nullable=False, server_default=""))
        batch.add_column(sa.Column("npis", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("decided_by", sa.String(36), nullable=True))
        batch.add_column(sa.Column("decision_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("tax_ids", naming_convention=UNNAMED) as batch:
        batch.drop_constraint(_old_unique(), type_="unique")
        batch.add_column(
            sa.Column("status", sa.String(32), nullable=False, server_default="active")
        )
        batch.add_column(sa.Column("requested_by", sa.String(36), nullable=True))
        batch.create_unique_constraint("uq_tax_ids_org_tin", ["organization_id", "tin"])
        batch.create_index("ix_tax_ids_tin", ["tin"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tax_ids", naming_convention=UNNAMED) as batch:
        batch.drop_index("ix_tax_ids_tin")
        batch.drop_constraint("uq_tax_ids_org_tin", type_="unique")
        batch.drop_column("requested_by")
        batch.drop_column("status")
        batch.create_unique_constraint(_old_unique(), ["tin"])
    with op.batch_alter_table("organizations") as batch:
        for name in ("decision_reason", "decided_by", "decided_at", "npis"):
            batch.drop_column(name)
        for name, _ in reversed(PROFILE):
            batch.drop_column(name)
