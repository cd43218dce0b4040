"""The janitor deletes only what expired (or was revoked past retention), in batches,
from the lifespan task, the CLI, and several replicas at once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from identity import cli
from identity.idempotency_records import IdempotencyRecord
from identity.janitor import Janitor
from identity.models import (
    ActionToken,
    AuthorizationCode,
    BackchannelDelivery,
    Client,
    DeniedToken,
    Nomination,
    Organization,
    RefreshToken,
    SsoSession,
    UsedClientAssertion,
    User,
)
from identity.settings import Settings
from tests.identity.harness import running_identity

NOW = datetime.now(UTC)
HOUR, DAYS = timedelta(hours=1), timedelta(days=2)


def code(name: str, expires: datetime, sid: str | None = None) -> AuthorizationCode:
    return AuthorizationCode(
        code_digest=name,
        client_id="c",
        user_id="u",
        sso_session_id=sid,
        redirect_uri="https://rp.example/cb",
        scope="openid",
        auth_time=NOW,
        expires_at=expires,
    )


def refresh(name: str, expires: datetime, **stamps: datetime) -> RefreshToken:
    return RefreshToken(
        id=name,
        token_digest=name,
        family_id=name,
        client_id="c",
        user_id="u",
        scope="openid",
        auth_time=NOW,
        expires_at=expires,
        **stamps,
    )


def sso(name: str, expires: datetime, ended: datetime | None = None) -> SsoSession:
    return SsoSession(
        id=name, cookie_digest=name, user_id="u", auth_time=NOW, expires_at=expires, ended_at=ended
    )


def bulk(expired: int, live: int) -> list[Any]:
    """`expired` + `live` used assertion ids and deny-list entries."""
    rows: list[Any] = []
    for i in range(expired + live):
        expires = NOW - HOUR if i < expired else NOW + HOUR
        rows.append(UsedClientAssertion(client_id="c", jti=f"j{i}", expires_at=expires))
        rows.append(DeniedToken(kind="jti", value=f"j{i}", expires_at=expires))
    return rows


async def fill(sessions: async_sessionmaker[AsyncSession], rows: list[Any]) -> None:
    async with sessions() as session:
        session.add(Client(client_id="c", name="c", token_endpoint_auth_method="none"))
        session.add(
            User(id="u", username="u", username_normalized="u", email="u@x", email_normalized="u@x")
        )
        session.add(Organization(id="o", name="o"))
        await session.flush()
        session.add_all(rows)
        await session.commit()


NAMES: dict[Any, Any] = {
    SsoSession: SsoSession.id,
    AuthorizationCode: AuthorizationCode.code_digest,
    RefreshToken: RefreshToken.id,
    UsedClientAssertion: UsedClientAssertion.jti,
    DeniedToken: DeniedToken.value,
    BackchannelDelivery: BackchannelDelivery.last_error,
    ActionToken: ActionToken.token_digest,
    Nomination: Nomination.id,
    IdempotencyRecord: IdempotencyRecord.key,
}


async def remaining(sessions: async_sessionmaker[AsyncSession], model: Any) -> set[str]:
    async with sessions() as session:
        return set(await session.scalars(select(NAMES[model])))


@pytest.fixture
def deletes(sessions: async_sessionmaker[AsyncSession]) -> Iterator[list[str]]:
    """The DELETE statements sent to the database."""
    seen: list[str] = []
    engine = sessions.kw["bind"].sync_engine

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("DELETE"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


async def test_only_expired_rows_go_in_batches(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, deletes: list[str]
) -> None:
    rows = [
        sso("live", NOW + HOUR),
        sso("ended-lately", NOW + HOUR, ended=NOW - HOUR),
        sso("ended-long-ago", NOW - DAYS, ended=NOW - DAYS),
        sso("expired-long-ago", NOW - DAYS),
        code("expired", NOW - HOUR),
        code("unexpired", NOW + HOUR),
        code("expired-in-live-session", NOW - HOUR, "live"),
        code("expired-in-ended-session", NOW - HOUR, "ended-lately"),
        refresh("live", NOW + DAYS),
        refresh("expired", NOW - HOUR),
        refresh("rotated", NOW + DAYS, rotated_at=NOW - DAYS),
        refresh("revoked-lately", NOW + DAYS, revoked_at=NOW - HOUR),
        refresh("revoked-long-ago", NOW + DAYS, revoked_at=NOW - DAYS),
        *bulk(expired=7, live=2),
    ]
    await fill(sessions, rows)
    janitor = Janitor(sessions, settings.model_copy(update={"janitor_batch_size": 3}))
    deleted = await janitor.sweep()
    assert deleted == {
        "authorization_codes": 2,
        "refresh_tokens": 2,
        "sso_sessions": 2,
        "used_client_assertions": 7,
        "denied_tokens": 7,
        "backchannel_deliveries": 0,
        "action_tokens": 0,
        "nominations": 0,
        "admin_idempotency_keys": 0,
    }
    assert len(deletes) == 1 + 1 + 1 + 3 + 3 + 4, "7 rows in batches of 3: 3 + 3 + 1; 4 empty"
    assert await remaining(sessions, SsoSession) == {"live", "ended-lately"}
    assert await remaining(sessions, AuthorizationCode) == {"unexpired", "expired-in-live-session"}
    assert await remaining(sessions, RefreshToken) == {"live", "rotated", "revoked-lately"}
    assert await remaining(sessions, UsedClientAssertion) == {"j7", "j8"}
    assert await remaining(sessions, DeniedToken) == {"j7", "j8"}
    assert set((await janitor.sweep()).values()) == {0}, "nothing twice"


def delivery(name: str, **stamps: datetime) -> BackchannelDelivery:
    """A back-channel logout delivery, named by its `last_error` (the key is a sequence)."""
    return BackchannelDelivery(client_id="c", user_id="u", sid="s", last_error=name, **stamps)


def link(name: str, expires: datetime, used: datetime | None = None) -> ActionToken:
    return ActionToken(
        token_digest=name, purpose="password_reset", user_id="u", expires_at=expires, used_at=used
    )


def nomination(name: str, expires: datetime, **stamps: datetime) -> Nomination:
    return Nomination(
        id=name,
        organization_id="o",
        email=f"{name}@x",
        token_digest=name,
        created_by="u",
        expires_at=expires,
        **stamps,
    )


async def test_sent_notices_spent_links_and_old_invitations_go(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, deletes: list[str]
) -> None:
    rows = [
        delivery("pending", next_attempt_at=NOW - DAYS),
        delivery("retrying", next_attempt_at=NOW + HOUR),
        delivery("delivered-lately", delivered_at=NOW - HOUR),
        delivery("delivered-long-ago", delivered_at=NOW - DAYS),
        delivery("failed-lately", failed_at=NOW - HOUR),
        delivery("failed-long-ago", failed_at=NOW - DAYS),
        link("live", NOW + HOUR),
        link("expired", NOW - HOUR),
        link("used-lately", NOW + HOUR, used=NOW - HOUR),
        link("used-long-ago", NOW + DAYS * 2, used=NOW - DAYS),
        nomination("pending", NOW + HOUR),
        nomination("expired-lately", NOW - HOUR),
        nomination("expired-long-ago", NOW - DAYS),
        nomination("accepted-and-expired-long-ago", NOW - DAYS, accepted_at=NOW - DAYS * 2),
        nomination("accepted-unexpired", NOW + HOUR, accepted_at=NOW - HOUR),
    ]
    await fill(sessions, rows)
    janitor = Janitor(sessions, settings.model_copy(update={"janitor_batch_size": 1}))
    deleted = await janitor.sweep()
    assert {k: deleted[k] for k in ("backchannel_deliveries", "action_tokens", "nominations")} == {
        "backchannel_deliveries": 2,
        "action_tokens": 2,
        "nominations": 2,
    }
    assert len(deletes) == 3 * (2 + 1) + 6, "batches of one row: 2 full, 1 short; 6 empty"
    assert await remaining(sessions, BackchannelDelivery) == {
        "pending",
        "retrying",
        "delivered-lately",
        "failed-lately",
    }
    assert await remaining(sessions, ActionToken) == {"live", "used-lately"}
    assert await remaining(sessions, Nomination) == {
        "pending",
        "expired-lately",
        "accepted-unexpired",
    }
    assert set((await janitor.sweep()).values()) == {0}, "nothing twice"


def kept_answer(name: str, expires: datetime) -> IdempotencyRecord:
    return IdempotencyRecord(
        caller_id="u",
        organization_id="o",
        key=name,
        request_hash="0" * 64,
        status_code=201,
        response="sealed",
        expires_at=expires,
    )


async def test_expired_idempotency_keys_go_in_batches(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, deletes: list[str]
) -> None:
    expired = [kept_answer(f"old-{i}", NOW - timedelta(seconds=i + 1)) for i in range(5)]
    await fill(sessions, [*expired, kept_answer("live", NOW + HOUR)])
    janitor = Janitor(sessions, settings.model_copy(update={"janitor_batch_size": 2}))
    deleted = await janitor.sweep()
    assert deleted["admin_idempotency_keys"] == 5
    keyed = [d for d in deletes if "admin_idempotency_keys" in d]
    assert len(keyed) == 3, "5 rows in batches of 2: 2 + 2 + 1"
    assert await remaining(sessions, IdempotencyRecord) == {"live"}
    assert (await janitor.sweep())["admin_idempotency_keys"] == 0, "nothing twice"


async def test_concurrent_janitors_share_the_work_without_errors(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    await fill(sessions, bulk(expired=60, live=3))
    tuned = settings.model_copy(update={"janitor_batch_size": 4})
    rounds = await asyncio.gather(*(Janitor(sessions, tuned).sweep() for _ in range(4)))
    assert sum(r["used_client_assertions"] for r in rounds) == 60
    assert sum(r["denied_tokens"] for r in rounds) == 60
    assert await remaining(sessions, UsedClientAssertion) == {"j60", "j61", "j62"}


async def test_the_cli_runs_one_round(
    sessions: async_sessionmaker[AsyncSession],
    identity_db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await fill(sessions, bulk(expired=2, live=1))
    monkeypatch.setenv("DATABASE_URL", identity_db_url)
    assert await anyio.to_thread.run_sync(cli.main, ["janitor"]) == 0
    out = capsys.readouterr().out
    assert "used_client_assertions: 2 deleted" in out and "denied_tokens: 2 deleted" in out
    assert await remaining(sessions, DeniedToken) == {"j2"}


async def test_the_service_sweeps_in_the_background(tmp_path: Path) -> None:
    async with running_identity(tmp_path, janitor_interval=0.05) as identity:
        async with identity.session() as session:
            session.add(DeniedToken(kind="jti", value="old", expires_at=NOW - HOUR))
            session.add(DeniedToken(kind="jti", value="new", expires_at=NOW + HOUR))
            await session.commit()
        for _ in range(100):
            async with identity.session() as session:
                left = set(await session.scalars(select(DeniedToken.value)))
            if left == {"new"}:
                break
            await asyncio.sleep(0.05)
        async with identity.session() as session:
            count = await session.scalar(select(func.count()).select_from(DeniedToken))
    assert left == {"new"} and count == 1
