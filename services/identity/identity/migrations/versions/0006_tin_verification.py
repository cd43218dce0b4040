"""TIN verification by an operator: evidence, attestation, decisions, revocation

Every TIN now waits, `pending_verification`, until an operator verifies it. Existing
rows: `pending_approval` (a TIN another organization holds) becomes
`pending_verification`; so does the TIN of an organization whose registration no
operator has decided yet (its grants end: no operator has seen its evidence). TINs
already `active` stay active, marked as recorded before verification existed so
that operators can find and review them.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE_VERIFICATION = "Recorded before TINpass verified Tax IDs (migration 0006); not reviewed."
COLUMNS: list[tuple[str, sa.types.TypeEngine[Any]]] = [
    ("legal_name", sa.String(200)),
    ("attestation", sa.Text()),
    ("attested_by", sa.String(36)),
    ("attested_at", sa.DateTime(timezone=True)),
    ("decided_by", sa.String(36)),
    ("decided_at", sa.DateTime(timezone=True)),
    ("decision_reason", sa.Text()),
    ("revoked_by", sa.String(36)),
    ("revoked_at", sa.DateTime(timezone=True)),
    ("revocation_reason", sa.Text()),
]


def upgrade() -> None:
    with op.batch_alter_table("tax_ids") as batch:
        for name, kind in COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))
        batch.alter_column(
            "status",
            existing_type=sa.String(32),
            existing_nullable=False,
            server_default="pending_verification",
        )
    op.execute(
        "UPDATE tax_ids SET status = 'pending_verification' WHERE status = 'pending_approval'"
        " OR organization_id IN"
        " (SELECT id FROM organizations WHERE status = 'pending_verification')"
    )
    op.execute(
        "DELETE FROM membership_tax_ids WHERE tax_id_id IN"
        " (SELECT id FROM tax_ids WHERE status <> 'active')"
    )
    op.execute(
        "DELETE FROM client_tax_ids WHERE tax_id_id IN"
        " (SELECT id FROM tax_ids WHERE status <> 'active')"
    )
    op.execute(
        sa.text(
            "UPDATE tax_ids SET attestation = :text WHERE status = 'active'"
        ).bindparams(text=BEFORE_VERIFICATION)
    )


def downgrade() -> None:
    op.execute(
        "UPDATE tax_ids SET status = 'pending_approval' WHERE status = 'pending_verification'"
    )
    op.execute("DELETE FROM tax_ids WHERE status IN ('rejected', 'revoked')")
    with op.batch_alter_table("tax_ids") as batch:
        batch.alter_column(
            "status", existing_type=sa.String(32), existing_nullable=False, server_default="active"
        )
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
