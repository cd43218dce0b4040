"""idempotency keys for the admin API's creating endpoints

The answer to a creating request made with an `Idempotency-Key`, kept per caller,
organization and key (unique: two requests with one key can never both commit)
until `expires_at`, when the janitor deletes it (found by that column's index).
The answer is sealed (`identity.crypto`), as it may carry a client's secret.

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "admin_idempotency_keys"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("caller_id", sa.String(length=36), nullable=False),
        sa.Column("organization_id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "caller_id", "organization_id", "key", name="uq_admin_idempotency_key"
        ),
    )
    op.create_index(f"ix_{TABLE}_expires_at", TABLE, ["expires_at"])


def downgrade() -> None:
    op.drop_index(f"ix_{TABLE}_expires_at", table_name=TABLE)
    op.drop_table(TABLE)
