"""tamper-evident audit chain

Each audit event gets a sequence number, the previous event's hash and its own
hash; existing events are chained in id order. The hash function is frozen here
as it was at this revision.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 20:27:03.201945
"""

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64
FIELDS = ("event", "actor_type", "actor_id", "organization_id", "target_type", "target_id", "outcome",
          "reason", "source_address", "request_id")


def _hash(row: sa.Row, seq: int, prev_hash: str) -> str:
    stamp = row.occurred_at
    if isinstance(stamp, str):
        from datetime import datetime

        stamp = datetime.fromisoformat(stamp)
    stamp = stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)
    details = row.details if isinstance(row.details, dict) else json.loads(row.details or "{}")
    content = {name: getattr(row, name) for name in FIELDS}
    content.update(seq=seq, occurred_at=stamp.isoformat(timespec="microseconds"), details=details, prev_hash=prev_hash)
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def upgrade() -> None:
    head = op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    connection = op.get_bind()
    events = sa.table("audit_events", sa.column("id"), sa.column("seq"), sa.column("prev_hash"), sa.column("hash"))
    rows = connection.execute(sa.text("SELECT * FROM audit_events ORDER BY id")).fetchall()
    prev = GENESIS
    for seq, row in enumerate(rows, start=1):
        digest = _hash(row, seq, prev)
        connection.execute(events.update().where(events.c.id == row.id).values(seq=seq, prev_hash=prev, hash=digest))
        prev = digest
    op.bulk_insert(head, [{"id": 1, "seq": len(rows), "last_hash": prev}])
    with op.batch_alter_table("audit_events") as batch:
        batch.alter_column("seq", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch.create_unique_constraint("uq_audit_events_seq", ["seq"])


def downgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_constraint("uq_audit_events_seq", type_="unique")
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
        batch.drop_column("seq")
    op.drop_table("audit_chain_head")
