"""login path indexes: authorization codes found by their nonce

Revision ID: 0012
Revises: 0011

Every authorization request (the login form and the login that resumes it) asks
whether a code was already issued with its nonce, a replay otherwise; without an
index that is a scan of every unexpired code. A hash index on PostgreSQL (a B-tree
entry could not hold the longest nonces the input rule admits, 2,048 characters);
SQLite makes it a B-tree.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_authorization_codes_nonce"


def upgrade() -> None:
    op.create_index(INDEX, "authorization_codes", ["nonce"], postgresql_using="hash")


def downgrade() -> None:
    op.drop_index(INDEX, table_name="authorization_codes")
