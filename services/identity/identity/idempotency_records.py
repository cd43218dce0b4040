"""The admin API's idempotency keys (draft-ietf-httpapi-idempotency-key-header): the
answer to a creating request, kept under the key its caller sent, for a bounded time.

A row is written in the transaction that makes the change it answers, so a change
never exists without its row nor a row without its change. Its scope is the caller
(the acting user) and the organization the path names (empty on paths naming none);
the answer is sealed (`identity.crypto`), since a client's answer carries its secret.
Kept in its own module: `identity.models` is the directory; this is an API's memory.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from identity.models import Base, new_id, utcnow

KEY_LENGTH = 200  # as the claims API's Idempotency-Key


class IdempotencyRecord(Base):
    __tablename__ = "admin_idempotency_keys"
    __table_args__ = (
        UniqueConstraint("caller_id", "organization_id", "key", name="uq_admin_idempotency_key"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    caller_id: Mapped[str] = mapped_column(String(36))
    organization_id: Mapped[str] = mapped_column(String(36), default="")
    key: Mapped[str] = mapped_column(String(KEY_LENGTH))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[str] = mapped_column(Text)  # sealed JSON (identity.crypto)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
