"""Helpers for the database-outage tests (issue 12): a service's database URL routed
through a `FaultProxy`, and the checks every 503 answer must pass."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import httpx
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from tests.support.databases import DEFAULT_PG
from tests.support.faultproxy import FaultProxy

# Short bounds, so a test of a hanging database takes about a second, not a minute.
SHORT_TIMEOUTS: dict[str, Any] = {
    "db_connect_timeout": 0.5,
    "db_statement_timeout": 0.5,
    "db_pool_timeout": 0.5,
}


def through(proxy: FaultProxy, url: str) -> str:
    """The same PostgreSQL database, reached through the proxy."""
    return (
        make_url(url)
        .set(host=proxy.listen_host, port=proxy.port)
        .render_as_string(hide_password=False)
    )


@contextmanager
def server_proxy() -> Iterator[FaultProxy]:
    """A proxy in front of the test PostgreSQL server (route URLs with `through`)."""
    server = make_url(os.environ.get("TINPASS_TEST_POSTGRES_URL", DEFAULT_PG))
    with FaultProxy(server.host or "127.0.0.1", server.port or 5432) as proxy:
        yield proxy


async def holding_a_connection(engine: AsyncEngine) -> None:
    """Until a request has checked a connection out of the engine's pool (and, with the
    proxy in blackhole, waits on it)."""
    pool = cast(QueuePool, engine.sync_engine.pool)
    for _ in range(1000):
        if pool.checkedout():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("no request took a connection")


async def cut_noticed(engine: AsyncEngine) -> None:
    """Until this process has seen the close of every connection idle in the pool (the
    server's or the network's goodbye arrives a moment after the cut). A request that
    takes a connection before then fails with it (503), like any request in flight."""
    idle = cast(Any, engine.sync_engine.pool)._pool._queue._queue  # SQLAlchemy's, read only
    for _ in range(1000):
        drivers = [r.dbapi_connection.driver_connection for r in idle if r.dbapi_connection]
        if all(driver.is_closed() for driver in drivers):
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the pooled connections still look open")


@contextmanager
def proxied(url: str) -> Iterator[tuple[FaultProxy, str]]:
    host, port = make_url(url).host or "127.0.0.1", make_url(url).port or 5432
    with FaultProxy(host, port) as proxy:
        yield proxy, through(proxy, url)


def outage_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "policy.outages"]


def assert_one_line_per_failure(caplog: pytest.LogCaptureFixture, failures: int) -> None:
    """Each failed request logged once, as a warning without a traceback; nothing
    else logged a traceback."""
    lines = outage_lines(caplog)
    assert len(lines) == failures, [r.getMessage() for r in lines]
    assert all(r.levelno == logging.WARNING and r.exc_info is None for r in lines)
    assert all("503" in r.getMessage() for r in lines)
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


def assert_problem_503(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) > 0
    body: dict[str, Any] = response.json()
    assert body["status"] == 503
    assert body["type"] == "https://tinpass.dev/problems/service-unavailable"
    assert body["title"] and "Retry" in body["detail"]
    return body


def assert_oauth_503(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert int(response.headers["retry-after"]) > 0
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["error"] == "temporarily_unavailable"


def assert_page_503(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert int(response.headers["retry-after"]) > 0
    assert "briefly unavailable" in response.text and "try again in a minute" in response.text


def assert_not_ready(response: httpx.Response) -> dict[str, str]:
    """/readyz refusing: a 503 problem with Retry-After; returns its checks."""
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) > 0
    body: dict[str, Any] = response.json()
    assert body["type"] == "https://tinpass.dev/problems/not-ready" and body["status"] == 503
    checks: dict[str, str] = body["checks"]
    return checks
