"""access trail sealed behind the writers

Writers now insert access_events rows without a sequence number or hashes (no shared
lock); the sealer chains them afterwards (provider_data.audit, policy.sealing). The three chain columns
become nullable and a partial index finds the unsealed events in id order.
Events chained before this revision keep their seq and hashes, and the head row
still ends the chain, so the trail verifies as before. Downgrading needs every
event sealed first (`provider-data audit seal`).

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (("seq", sa.Integer()), ("prev_hash", sa.String(length=64)), ("hash", sa.String(length=64)))
UNSEALED = sa.text("seq IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("access_events") as batch:
        for name, type_ in COLUMNS:
            batch.alter_column(name, existing_type=type_, nullable=True)
    op.create_index("ix_access_events_unsealed", "access_events", ["id"], postgresql_where=UNSEALED, sqlite_where=UNSEALED)


def downgrade() -> None:
    unsealed = op.get_bind().scalar(sa.text("SELECT count(*) FROM access_events WHERE seq IS NULL"))
    if unsealed:
        raise RuntimeError(f"{unsealed} events are not sealed yet: run `provider-data audit seal` first")
    op.drop_index("ix_access_events_unsealed", table_name="access_events")
    with op.batch_alter_table("access_events") as batch:
        for name, type_ in COLUMNS:
            batch.alter_column(name, existing_type=type_, nullable=False)
