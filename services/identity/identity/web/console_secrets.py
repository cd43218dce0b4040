"""A new client secret, held for the page that shows it after the redirect.

Making a client (or a new secret) answers 303 to the client's secret page, so a
reload shows the page again and makes nothing. The secret waits for that page
server-side, sealed (`identity.crypto`), as an `action_tokens` row of purpose
`client_secret` whose key is derived from the browser's CSRF cookie and the
client: only the administrator who made it, in the browser that made it, sees it,
for `SECRET_TTL` seconds or until they say they have stored it. Never in a URL;
showing the page changes nothing (no GET changes state), so a reload within that
time shows the same secret again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from identity import crypto
from identity.models import ActionToken
from identity.security import token_digest
from identity.settings import Settings
from identity.web.csrf import COOKIE

PURPOSE = "client_secret"
SECRET_TTL = 10 * 60


@dataclass(frozen=True)
class Held:
    secret: str | None  # None: the client signs its requests (private_key_jwt)


def _key(request: Request, client_id: str) -> str:
    return token_digest(f"{PURPOSE}:{request.cookies.get(COOKIE, '')}:{client_id}")


async def hold(
    session: AsyncSession,
    settings: Settings,
    request: Request,
    user_id: str,
    client_id: str,
    secret: str | None,
) -> None:
    """Keep the new secret for this browser's next view (replacing one not yet seen)."""
    key = _key(request, client_id)
    await forget(session, request, client_id)
    sealed = crypto.seal(settings, PURPOSE, secret.encode(), key) if secret else ""
    session.add(
        ActionToken(
            token_digest=key,
            purpose=PURPOSE,
            user_id=user_id,
            data={"secret": sealed},
            expires_at=datetime.now(UTC) + timedelta(seconds=SECRET_TTL),
        )
    )


async def held(
    session: AsyncSession, settings: Settings, request: Request, user_id: str, client_id: str
) -> Held | None:
    """The secret held for this browser and administrator, while it is kept."""
    key = _key(request, client_id)
    row = await session.get(ActionToken, key)
    if row is None or row.purpose != PURPOSE or row.user_id != user_id:
        return None
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
    if expires <= datetime.now(UTC):
        return None
    sealed = str(row.data.get("secret", ""))
    return Held(crypto.unseal(settings, PURPOSE, sealed, key).decode() if sealed else None)


async def forget(session: AsyncSession, request: Request, client_id: str) -> None:
    key = _key(request, client_id)
    await session.execute(
        delete(ActionToken).where(ActionToken.token_digest == key, ActionToken.purpose == PURPOSE)
    )
