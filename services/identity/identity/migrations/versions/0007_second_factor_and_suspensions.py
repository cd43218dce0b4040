"""second factor: pending secret until confirmed; suspensions carry who made them

Revision ID: 0007
Revises: 0006

A new TOTP secret waits in `totp_pending_secret_encrypted` until a code from it is
confirmed; the confirmed one keeps working until then. A suspension records who made
it, when, and at which level (`organization` or `operator`); only that level or
above lifts it. Accounts already suspended before this revision were suspended by
someone unknown: they are taken as operator-level (an operator lifts them).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("totp_pending_secret_encrypted", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("suspended_by", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("suspension_level", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE users SET suspension_level = 'operator', suspended_at = CURRENT_TIMESTAMP"
        " WHERE status = 'suspended'"
    )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("suspended_at")
        batch_op.drop_column("suspension_level")
        batch_op.drop_column("suspended_by")
        batch_op.drop_column("totp_pending_secret_encrypted")
