"""janitor sweeps: indexes on what the janitor selects by (identity.janitor)

Back-channel logout deliveries go once delivered or given up on, action tokens once
expired or used, nominations once expired, each past the retention; the janitor's
batches find them by these columns instead of scanning the tables.

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("backchannel_deliveries", "delivered_at"),
    ("backchannel_deliveries", "failed_at"),
    ("action_tokens", "expires_at"),
    ("action_tokens", "used_at"),
    ("nominations", "expires_at"),
)


def upgrade() -> None:
    for table, column in INDEXES:
        op.create_index(f"ix_{table}_{column}", table, [column])


def downgrade() -> None:
    for table, column in reversed(INDEXES):
        op.drop_index(f"ix_{table}_{column}", table_name=table)
