"""tamper-evident access trail

Each access event gets a sequence number, the previous event's hash and its own
hash (policy.audit's rule, frozen here as it was at this revision); existing
events are chained in id order.

Revision ID: 0002
Revises: 0001
"""

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64
FIELDS = ("subject", "client_id", "org_id", "action", "member_id", "tax_id", "allowed", "reason", "request_id")


def _hash(row: sa.Row, seq: int, prev_hash: str) -> str:
    stamp = row.occurred_at if not isinstance(row.occurred_at, str) else datetime.fromisoformat(row.occurred_at)
    stamp = stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)
    content = {name: getattr(row, name) for name in FIELDS}
    content.update(allowed=bool(content["allowed"]), seq=seq, occurred_at=stamp.isoformat(timespec="microseconds"),
                   prev_hash=prev_hash)
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def upgrade() -> None:
    head = op.create_table(
        "access_chain_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("access_events") as batch:
        batch.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    connection = op.get_bind()
    events = sa.table("access_events", sa.column("id"), sa.column("seq"), sa.column("prev_hash"), sa.column("hash"))
    prev = GENESIS
    rows = connection.execute(sa.text("SELECT * FROM access_events ORDER BY id")).fetchall()
    for seq, row in enumerate(rows, start=1):
        digest = _hash(row, seq, prev)
        connection.execute(events.update().where(events.c.id == row.id).values(seq=seq, prev_hash=prev, hash=digest))
        prev = digest
    op.bulk_insert(head, [{"id": 1, "seq": len(rows), "last_hash": prev}])
    with op.batch_alter_table("access_events") as batch:
        batch.alter_column("seq", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch.create_unique_constraint("uq_access_events_seq", ["seq"])


def downgrade() -> None:
    with op.batch_alter_table("access_events") as batch:
        batch.drop_constraint("uq_access_events_seq", type_="unique")
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
        batch.drop_column("seq")
    op.drop_table("access_chain_head")
