"""Password login through the pages against the raw argon2id verify rate.

One login is what a browser does: GET /authorize (the login form, a CSRF cookie),
then POST /login with the username, password and CSRF token, answered with the
redirect carrying the authorization code (a session, a code, audit events). wrk
sends the GET and the POST in turn, so logins per second are half its requests.
Every request carries a nonce of its own: a nonce used before is a replay, which
identity answers with an error redirect instead of the form or a code (cheaper
than a login); wrk counts any answer but a page or a code as an error.

The raw rate is identity's own CryptContext verifying the same argon2id hash, for
the same duration, in as many processes as identity can hash passwords at once
(its workers times each one's hash threads), each verifying one at a time.
"""

from __future__ import annotations

import secrets
import time
from concurrent.futures import ProcessPoolExecutor
from urllib.parse import urlencode, urlsplit

import httpx

from bench import wrk
from bench.cases import FORM, Measured, duration, measure
from bench.harness import Setup, hash_threads
from tests.support.oidc import Pkce, authorize_url, form_fields, query_of

USERNAME = "sam.biller"  # the demo seed's user without a second factor
PASSWORD = "Demo.Passw0rd-2026"
CSRF_COOKIE = "tinpass_csrf"


def _verify_for(seconds: float, hashed: str) -> int:
    from identity.security import pwd_context  # imported in the worker process

    count, deadline = 0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        if not pwd_context.verify(PASSWORD, hashed):
            raise RuntimeError("the bench's hash does not verify")
        count += 1
    return count


def argon2_rate(processes: int, seconds: float) -> float:
    """Verifications per second of identity's argon2id parameters in `processes` processes."""
    from identity.security import hash_password

    hashed = hash_password(PASSWORD)
    with ProcessPoolExecutor(processes) as pool:
        list(pool.map(_verify_for, [0.5] * processes, [hashed] * processes))  # warm up
        started = time.perf_counter()
        counts = list(pool.map(_verify_for, [seconds] * processes, [hashed] * processes))
        elapsed = time.perf_counter() - started
    return sum(counts) / elapsed


async def _login_form(setup: Setup) -> tuple[str, str, str]:
    """(authorization path, POST body, CSRF cookie) of one login, checked once; the
    path and the body hold wrk.NONCE_MARK where each request's own nonce goes."""
    stack = setup.stack
    nonce = f"check{secrets.token_hex(8)}"
    path = authorize_url(
        "cascade-portal", stack.url("gateway") + "/portal/callback", Pkce.new(), nonce=nonce
    )
    async with httpx.AsyncClient(base_url=stack.issuer, timeout=10) as browser:
        page = await browser.get(path)
        fields = form_fields(page.text)
        action = urlsplit(str(page.url.join(fields.pop("__action__")))).path
        fields.update(username=USERNAME, password=PASSWORD)
        cookie = browser.cookies[CSRF_COOKIE]
    body = urlencode(fields)
    async with httpx.AsyncClient(base_url=stack.issuer, timeout=10) as fresh:
        answer = await fresh.post(
            action,
            content=body,
            headers={"Content-Type": FORM, "Cookie": f"{CSRF_COOKIE}={cookie}"},
        )
    if answer.status_code != 302 or "code" not in query_of(answer.headers["location"]):
        raise RuntimeError(f"POST {action} answered {answer.status_code}: {answer.text[:500]}")
    if action != "/login":
        raise RuntimeError(f"the login form posts to {action}, not /login")
    return path.replace(nonce, wrk.NONCE_MARK), body.replace(nonce, wrk.NONCE_MARK), cookie


async def password_login(setup: Setup) -> Measured:
    path, body, cookie = await _login_form(setup)
    headers = {"Content-Type": FORM, "Cookie": f"{CSRF_COOKIE}={cookie}"}
    script = wrk.login_script(path, "/login", body, headers)
    result = await measure(setup.stack.issuer + "/authorize", script)
    logins = wrk.WrkResult(
        result.requests // 2, result.seconds, result.p50_ms, result.p99_ms, result.errors
    )
    return Measured(logins, "logins/s; latency of GET form and POST alike")


def raw_processes(setup: Setup) -> int:
    """Identity's concurrent hashes: its workers times each one's hash threads."""
    return setup.workers * hash_threads(setup.workers)


def raw_verify_rate(setup: Setup) -> float:
    return argon2_rate(raw_processes(setup), duration())
