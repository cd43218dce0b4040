"""store grants, not tokens: a deny-list instead of every access token

Revision ID: 0011
Revises: 0010

Issued access tokens are no longer stored: revoking one puts its `jti` on the
deny-list (`denied_tokens`) until it expires, revoking a grant puts the grant's
family there. `issued_access_tokens` goes; its revoked, unexpired rows move to the
deny-list, so no revocation is forgotten on the way up (the way down recreates the
table empty: a deny-list entry cannot say whom a token was issued to). The janitor
gets indexes on the columns it deletes by.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JANITOR_INDEXES = (
    ("authorization_codes", "expires_at"),
    ("refresh_tokens", "expires_at"),
    ("refresh_tokens", "revoked_at"),
    ("sso_sessions", "expires_at"),
    ("sso_sessions", "ended_at"),
)
ACCESS_TOKEN_INDEXES = ("client_id", "family_id", "user_id")


def _keep_revocations() -> None:
    """Revoked access tokens that have not expired yet go to the deny-list."""
    issued = sa.table(
        "issued_access_tokens",
        sa.column("jti", sa.String),
        sa.column("expires_at", sa.DateTime(timezone=True)),
        sa.column("revoked_at", sa.DateTime(timezone=True)),
    )
    denied = sa.table(
        "denied_tokens",
        sa.column("kind", sa.String),
        sa.column("value", sa.String),
        sa.column("expires_at", sa.DateTime(timezone=True)),
    )
    revoked = sa.select(sa.literal("jti"), issued.c.jti, issued.c.expires_at).where(
        issued.c.revoked_at.is_not(None), issued.c.expires_at > datetime.now(UTC)
    )
    op.get_bind().execute(denied.insert().from_select(["kind", "value", "expires_at"], revoked))


def upgrade() -> None:
    op.create_table(
        "denied_tokens",
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "value"),
    )
    op.create_index("ix_denied_tokens_expires_at", "denied_tokens", ["expires_at"])
    _keep_revocations()
    for column in ACCESS_TOKEN_INDEXES:
        op.drop_index(f"ix_issued_access_tokens_{column}", table_name="issued_access_tokens")
    op.drop_table("issued_access_tokens")
    for table, column in JANITOR_INDEXES:
        op.create_index(f"ix_{table}_{column}", table, [column])


def downgrade() -> None:
    for table, column in JANITOR_INDEXES:
        op.drop_index(f"ix_{table}_{column}", table_name=table)
    op.create_table(
        "issued_access_tokens",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=True),
        sa.Column("family_id", sa.String(length=36), nullable=True),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("jti"),
    )
    for column in ACCESS_TOKEN_INDEXES:
        op.create_index(
            f"ix_issued_access_tokens_{column}", "issued_access_tokens", [column]
        )
    op.drop_index("ix_denied_tokens_expires_at", table_name="denied_tokens")
    op.drop_table("denied_tokens")
