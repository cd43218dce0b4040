"""claim status and network status limited to their value sets

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("claims") as batch:
        batch.create_check_constraint(
            "ck_claims_status", "status IN ('received', 'pended', 'paid', 'denied')"
        )
    with op.batch_alter_table("provider_records") as batch:
        batch.create_check_constraint(
            "ck_provider_records_network_status", "network_status IN ('in_network', 'out_of_network')"
        )


def downgrade() -> None:
    with op.batch_alter_table("provider_records") as batch:
        batch.drop_constraint("ck_provider_records_network_status", type_="check")
    with op.batch_alter_table("claims") as batch:
        batch.drop_constraint("ck_claims_status", type_="check")
