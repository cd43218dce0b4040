"""TINpass's Prometheus metrics (prometheus-client, default registry) and `/metrics`.

Every metric the services export is declared here, once (docs/observability.md lists
them); the request metrics are `policy.observability`'s. Each is counted where its
event happens, by one call of a helper below whose label children are looked up once.

Several worker processes: with `PROMETHEUS_MULTIPROC_DIR` set (to an empty directory
the launcher makes before starting the workers, `deploy/stack.py` and the image's
entry point do), every worker writes its values there and `/metrics` of any worker
reports all of them (`MultiProcessCollector`): counters and histograms summed, the
gauges as each says (`multiprocess_mode`). Values of gauges of a worker that died are
dropped at the next scrape. Without it, one process, the default registry.

`/metrics` (`metrics_endpoint`) answers only requests that reached the service
directly: one carrying `X-Forwarded-For`, `X-Real-IP` or `Forwarded` came through a
proxy (the Ingress, a load balancer) and gets a 404, as if there were no such path.
With a token set (`*_METRICS_TOKEN`) it also wants `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import hmac
import os
import re
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response

from policy.observability import Observability

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
disable_created_metrics()  # no `_created` series beside each counter (not kept by workers)


class Family:
    """A labelled metric's children by label values, looked up without prometheus'
    lock and label checks (the values are few and fixed by the code)."""

    def __init__(self, metric: Any) -> None:
        self.metric = metric
        self.children: dict[tuple[str, ...], Any] = {}

    def __call__(self, *values: str) -> Any:
        child = self.children.get(values)
        if child is None:
            child = self.children[values] = self.metric.labels(*values)
        return child


# identity
TOKENS_ISSUED = Family(
    Counter("tinpass_tokens_issued_total", "Tokens issued at /token, by grant.", ["grant_type"])
)
LOGINS = Counter("tinpass_logins_total", "Logins completed (an SSO session started).")
LOGIN_FAILURES = Family(
    Counter(
        "tinpass_login_failures_total",
        "Failed login steps, by reason (unknown_user, wrong_password, wrong_code, locked, ...).",
        ["reason"],
    )
)
LOCKOUTS = Counter("tinpass_account_lockouts_total", "Accounts locked after repeated failures.")
MFA_CHALLENGES = Counter(
    "tinpass_mfa_challenges_total", "Second factors asked for at login (a password passed)."
)
MFA_FAILURES = Counter("tinpass_mfa_failures_total", "Wrong second-factor codes at login.")
# provider data
ACCESS_REFUSALS = Family(
    Counter(
        "tinpass_access_refusals_total",
        "Accesses to patient data refused by the access decision (policy.decide), "
        "by action and reason (no_matching_provider_record, tin_not_billed, no_tax_ids, ...).",
        ["action", "reason"],
    )
)
# identity's throttle and the gateway's limits
RATE_LIMITED = Family(
    Counter(
        "tinpass_rate_limit_rejections_total",
        "Requests refused with 429 by a rate limit, by service and limit.",
        ["service", "limit"],
    )
)
# the gateway
UPSTREAM_ERRORS = Family(
    Counter(
        "tinpass_upstream_errors_total",
        "Proxied requests that got no answer from their upstream, by upstream and kind "
        "(busy: its pool stayed full; timeout; unreachable).",
        ["upstream", "kind"],
    )
)
# the audit trails (every service with one)
SEALING_LAG = Family(
    Gauge(
        "tinpass_audit_sealing_lag_seconds",
        "Age of the oldest event in the leader's last sealing round (0: none waited).",
        ["trail"],
        multiprocess_mode="livemax",
    )
)
SEALED_AT = Family(
    Gauge(
        "tinpass_audit_sealed_timestamp_seconds",
        "When the leader last finished a sealing round (Unix time): a stalled sealer "
        "shows as time() minus this growing.",
        ["trail"],
        multiprocess_mode="livemax",
    )
)
# database pools
POOL_IN_USE = Family(
    Gauge(
        "tinpass_db_pool_connections_in_use",
        "Connections of the service's database pool checked out now (all workers).",
        ["service"],
        multiprocess_mode="livesum",
    )
)
POOL_CAPACITY = Family(
    Gauge(
        "tinpass_db_pool_connections_max",
        "Connections the pools may open (pool size plus overflow, all workers).",
        ["service"],
        multiprocess_mode="livesum",
    )
)

_LOGIN_EVENTS = {"login.succeeded", "login.failed", "account.locked", "token.issued"}


def count_identity_events(rows: Iterable[Mapping[str, Any]]) -> None:
    """Count tokens, logins, failures and lockouts from the audit events a protocol step
    committed (`identity.web.protocol.commit`): each counted once, and only once it is
    recorded."""
    for row in rows:
        name = row["event"]
        if name not in _LOGIN_EVENTS:
            continue
        details = row["details"]
        if name == "token.issued":
            TOKENS_ISSUED(str(details.get("grant_type"))).inc()
        elif name == "login.succeeded":
            LOGINS.inc()
        elif name == "account.locked":
            LOCKOUTS.inc()
        else:
            reason = str(row.get("reason") or details.get("reason") or "unknown")
            LOGIN_FAILURES(reason).inc()
            if reason == "wrong_code":
                MFA_FAILURES.inc()


def sealed(trail: str, oldest: datetime | None) -> None:
    """A sealing round ended; `oldest` is when the first event it sealed was recorded."""
    now = time.time()
    lag = 0.0
    if oldest is not None:
        stamp = oldest.replace(tzinfo=UTC) if oldest.tzinfo is None else oldest
        lag = max(0.0, now - stamp.timestamp())
    SEALING_LAG(trail).set(lag)
    SEALED_AT(trail).set(now)


_OUT = "tinpass_metrics_out"


def watch_pool(engine: AsyncEngine, service: str) -> None:
    """Keep `tinpass_db_pool_connections_*{service}` up to date from the pool's events."""
    pool = engine.sync_engine.pool
    in_use = POOL_IN_USE(service)
    size = getattr(pool, "size", None)
    if callable(size):
        POOL_CAPACITY(service).inc(size() + max(0, getattr(pool, "_max_overflow", 0)))

    # Each record is counted once while out: a checkout retried after a disconnect, or a
    # checkin of a connection whose checkout failed, moves nothing.
    @event.listens_for(pool, "checkout")
    def _checkout(_dbapi: Any, record: Any, _proxy: Any) -> None:
        if not record.record_info.get(_OUT):
            record.record_info[_OUT] = True
            in_use.inc()

    @event.listens_for(pool, "checkin")
    def _checkin(_dbapi: Any, record: Any) -> None:
        if record is not None and record.record_info.pop(_OUT, False):
            in_use.dec()


def unwatch_pool(engine: AsyncEngine, service: str) -> None:
    """The engine is being disposed of: its capacity no longer counts."""
    size = getattr(engine.sync_engine.pool, "size", None)
    if callable(size):
        capacity = size() + max(0, getattr(engine.sync_engine.pool, "_max_overflow", 0))
        POOL_CAPACITY(service).dec(capacity)


_LIVE_FILE = re.compile(r"gauge_live[a-z]+_(\d+)\.db")


def _forget_dead_workers(directory: str) -> None:
    """Drop the live gauges of worker processes that are gone (uvicorn restarts workers
    without telling anyone)."""
    pids = {int(m.group(1)) for f in os.listdir(directory) if (m := _LIVE_FILE.fullmatch(f))}
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, directory)
        except PermissionError:
            continue


def exposition() -> bytes:
    """The metrics in Prometheus' text format: every worker's when multiprocess."""
    directory = os.environ.get(MULTIPROC_ENV)
    if not directory or not Path(directory).is_dir():
        return generate_latest(REGISTRY)
    _forget_dead_workers(directory)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)
    return generate_latest(registry)


PROXY_HEADERS = ("x-forwarded-for", "x-real-ip", "forwarded")


async def metrics_endpoint(request: Request) -> Response:
    """`GET /metrics`, for a scraper that reaches the service directly."""
    if any(name in request.headers for name in PROXY_HEADERS):
        return Response("Not Found", status_code=404, media_type="text/plain")
    token: str = getattr(request.app.state, "metrics_token", "") or ""
    if token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), token.encode()):
            return Response(
                "A bearer token is required.",
                status_code=401,
                media_type="text/plain",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST)


def install(app: Any, service: str, metrics_token: str = "") -> None:
    """`/metrics` and the request middleware on a Starlette/FastAPI app (add it where
    the request id should start: outside the input guard, inside forwarded headers)."""
    app.state.metrics_token = metrics_token
    app.add_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)
    app.add_middleware(Observability, service=service, routes=app)
