"""Single-use console form tokens: a token's use is a row, written in the same
transaction as the change the form makes.

The row's key is the token's digest (`action_tokens` rows of purpose `form`); a
second use of the token, replayed later or raced in parallel, cannot insert it
again: PostgreSQL makes the second insert wait for the first transaction and then
refuses it; SQLite has one writer at a time. A form refused before its change
(a mistake in a field) leaves no row, since its transaction is rolled back: the
page it shows again carries a new token anyway. The janitor sweeps the rows once
the tokens expire (`used_at` stays empty, so that only the expiry decides).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from identity.models import ActionToken
from identity.security import token_digest
from identity.web import csrf

PURPOSE = "form"
REPLAYED = (
    "This form was already sent, so nothing was done again. "
    "Go back to the page, reload it, and check whether the change is there."
)


async def use(session: AsyncSession, user_id: str, token: str) -> bool:
    """Record the token's one use; False when it was used already (the transaction is
    then rolled back). Call after `csrf.once_valid`, first in the change's transaction."""
    expires = datetime.fromtimestamp(csrf.once_expiry(token), UTC)
    row = ActionToken(
        token_digest=token_digest(f"{PURPOSE}:{token}"),
        purpose=PURPOSE,
        user_id=user_id,
        data={},
        expires_at=expires,
    )
    session.add(row)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        return False
    return True
