"""invariants the database enforces: one active signing key

Revision ID: 0009
Revises: 0008

Concurrent `identity rotate-keys` could leave two `active` (and two `next`) keys.
Before the partial unique indexes are made, such a table is repaired: the most
recently activated key stays `active`, the others are retired (published for a
day, longer than any token lives); surplus `next` keys never signed anything and
are retired unpublished.
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = ("active", "next")


def _index(status: str) -> str:
    return f"uq_signing_keys_one_{status}"


def _repair() -> None:
    keys = sa.table(
        "signing_keys",
        sa.column("kid", sa.String),
        sa.column("status", sa.String),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("activated_at", sa.DateTime(timezone=True)),
        sa.column("retired_at", sa.DateTime(timezone=True)),
        sa.column("publish_until", sa.DateTime(timezone=True)),
    )
    bind = op.get_bind()
    now = datetime.now(UTC)
    newest_first = {"active": keys.c.activated_at, "next": keys.c.created_at}
    publish_until = {"active": now + timedelta(days=1), "next": now}
    for status in STATUSES:
        surplus = bind.execute(
            sa.select(keys.c.kid)
            .where(keys.c.status == status)
            .order_by(newest_first[status].desc(), keys.c.kid.desc())
        ).all()[1:]
        for (kid,) in surplus:
            bind.execute(
                keys.update()
                .where(keys.c.kid == kid)
                .values(status="retired", retired_at=now, publish_until=publish_until[status])
            )


def upgrade() -> None:
    _repair()
    for status in STATUSES:
        op.create_index(
            _index(status),
            "signing_keys",
            ["status"],
            unique=True,
            postgresql_where=sa.text(f"status = '{status}'"),
            sqlite_where=sa.text(f"status = '{status}'"),
        )


def downgrade() -> None:
    for status in STATUSES:
        op.drop_index(_index(status), table_name="signing_keys")
