"""policy.outages: which failures mean "a dependency is down", and the three forms of
the 503 answer (problem, OAuth error, page), each with Retry-After and one log line."""

from __future__ import annotations

import logging

import asyncpg
import httpx
import pytest
import redis.exceptions
from fastapi import FastAPI, Request
from limits.errors import StorageError
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from policy import outages
from policy.audit_batch import AuditWriteFailed
from tests.support.dbfaults import (
    assert_oauth_503,
    assert_one_line_per_failure,
    assert_page_503,
    assert_problem_503,
)


def wrapped(orig: Exception, kind: type[DBAPIError] = DBAPIError) -> DBAPIError:
    error = kind("SELECT 1", {"member_id": "M1000101"}, orig)
    error.__cause__ = orig
    return error


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "refused"),
        OSError("Multiple exceptions: [Errno 111] Connect call failed"),
        TimeoutError(),
        PoolTimeout("QueuePool limit reached"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout"),
        asyncpg.exceptions.AdminShutdownError("terminating connection"),
        asyncpg.exceptions.TooManyConnectionsError("too many"),
        wrapped(asyncpg.exceptions.ConnectionDoesNotExistError("closed")),
        wrapped(Exception("server closed the connection"), OperationalError),
        redis.exceptions.ConnectionError("Error 111 connecting"),
        redis.exceptions.TimeoutError("Timeout reading"),
        StorageError(redis.exceptions.ConnectionError("down")),
        AuditWriteFailed("the audit events could not be written"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_outages(error: Exception) -> None:
    assert outages.is_outage(error)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bug"),
        KeyError("bug"),
        FileNotFoundError("missing.pem"),
        PermissionError("checkpoints"),
        asyncpg.exceptions.UniqueViolationError("duplicate key"),
        wrapped(asyncpg.exceptions.UniqueViolationError("duplicate"), IntegrityError),
        redis.exceptions.ResponseError("WRONGTYPE"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_bugs_are_not_outages(error: Exception) -> None:
    assert not outages.is_outage(error)


def test_the_description_names_classes_never_the_message() -> None:
    error = wrapped(asyncpg.exceptions.ConnectionDoesNotExistError("closed"))
    described = outages.describe(error)
    assert described.startswith("DBAPIError<-")
    assert "ConnectionDoesNotExistError" in described
    assert "M1000101" not in described and "SELECT" not in described


def _app() -> FastAPI:
    app = FastAPI()

    def kind_of(request: Request) -> outages.Kind:
        kinds: dict[str, outages.Kind] = {"/token": "oauth", "/login": "html"}
        return kinds.get(request.url.path, "api")

    outages.install(app, kind_of)

    @app.get("/token")
    @app.get("/login")
    @app.get("/api")
    async def down() -> None:
        raise wrapped(asyncpg.exceptions.ConnectionDoesNotExistError("closed M1000101"))

    @app.get("/bug")
    async def bug() -> None:
        raise ValueError("a bug")

    return app


async def test_each_form_of_the_answer_and_one_log_line(caplog: pytest.LogCaptureFixture) -> None:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        with caplog.at_level(logging.WARNING):
            assert_oauth_503(await client.get("/token"))
            assert_page_503(await client.get("/login"))
            assert_problem_503(await client.get("/api"))
        assert_one_line_per_failure(caplog, 3)
        assert "M1000101" not in caplog.text
        bug = await client.get("/bug")
    assert bug.status_code == 500
    assert bug.headers["content-type"] == "application/problem+json"
    assert bug.json()["type"] == "https://tinpass.dev/problems/internal-error"
