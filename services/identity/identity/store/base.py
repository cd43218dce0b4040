"""What every part of the protocol store shares: the request's session, the settings,
and how instants are kept (timestamps in the snapshots, aware datetimes in the rows)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from identity.models import TaxId
from identity.settings import Settings

if TYPE_CHECKING:
    from identity.store.standing import Standing


def ts(value: datetime) -> int:
    return int(value.timestamp())


def dt(value: int) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def now() -> datetime:
    return datetime.now(UTC)


def verified(rows: Iterable[TaxId]) -> tuple[str, ...]:
    """Only verified TINs reach a token, whatever grant might linger."""
    return tuple(sorted({t.tin for t in rows if t.status == "active"}))


class StoreBase:
    """Protocol storage over the request's session (no commits here)."""

    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.pepper = settings.client_secret_pepper
        self._nonces_used: dict[tuple[str, str], bool] = {}
        self._standings: dict[str, Standing | None] = {}
