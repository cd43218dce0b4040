"""No GET changes state: every GET route of the identity app (found by walking
`app.routes`), its path parameters filled with real ids of the demo data and its
links' tokens real (e-mail change, registration, password reset, invitations), is
called as anonymous, a signed-in subscriber, an organization's administrator and a
TINpass operator (each with an SSO session and an access token); every table is
compared before and after each call.

Left out of the comparison, and only these:
- `audit_events`, the append-only audit trail (reads may be audited);
- `sso_sessions.last_seen_at`, which slides the SSO session's idle timeout;
- the rows of `authorization_codes` made by `GET /authorize`: issuing a code to a
  signed-in user is what the OAuth authorization endpoint is for (RFC 6749 §4.1.1
  defines it as a GET). Every other table is still compared for `/authorize`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from fastapi.routing import iter_route_contexts
from sqlalchemy import select

from identity import action_tokens, admin_ops, registration
from identity.admin import nominations, service
from identity.admin.administrators import administrator_for
from identity.models import Base, Client, Organization, User
from tests.identity.admin_flows import admin_token, bearer
from tests.identity.harness import PASSWORD, PORTAL, PORTAL_REDIRECT, IdentityHarness
from tests.support.oidc import Pkce, authorize_url, submit_login

SKIPPED_COLUMNS = {("sso_sessions", "last_seen_at")}
PERSONAS = (None, "sam.biller", "ever.admin", "ops.olivia")


@dataclass
class Links:
    query: dict[str, dict[str, str]]
    path: dict[str, str]


def get_routes(identity: IdentityHarness) -> list[str]:
    paths = [
        route.path
        for route in iter_route_contexts(identity.app.routes)
        if route.methods and "GET" in route.methods and route.path
    ]
    return sorted(set(paths))


async def snapshot(identity: IdentityHarness) -> dict[str, list[tuple[Any, ...]]]:
    tables: dict[str, list[tuple[Any, ...]]] = {}
    async with identity.session() as session:
        for table in Base.metadata.sorted_tables:
            if table.name == "audit_events":
                continue
            columns = [c for c in table.columns if (table.name, c.name) not in SKIPPED_COLUMNS]
            rows = (await session.execute(select(*columns))).all()
            tables[table.name] = sorted((tuple(map(repr, r)) for r in rows), key=repr)
    return tables


async def links(identity: IdentityHarness) -> Links:
    """Real ids for the path parameters and real, unused tokens for the links."""
    settings, throttle = identity.settings, identity.app.state.throttle
    async with identity.session() as session:
        evergreen = await session.scalar(
            select(Organization).where(Organization.name == "Evergreen Family Clinic")
        )
        eve = await session.scalar(select(User).where(User.username == "ever.admin"))
        sam = await session.scalar(select(User).where(User.username == "sam.biller"))
        client = await session.scalar(
            select(Client.client_id).where(Client.client_id == "acme-curl")
        )
        assert evergreen is not None and eve is not None and sam is not None and client
        email = await action_tokens.issue(
            session, "email_change", sam.id, 3600, email="sam.new@evergreen.example"
        )
        reset = await action_tokens.issue(session, "password_reset", sam.id, 3600)
        applicant = await admin_ops.create_user(
            session, settings, "walk.applicant", "walk@applicant.example", PASSWORD, "", ""
        )
        applicant.status = "pending_email"
        confirm = await action_tokens.issue(
            session, registration.CONFIRM_PURPOSE, applicant.id, 3600
        )
        actor = service.Actor(await administrator_for(session, eve), None, None)
        _, newcomer = await nominations.nominate(
            session,
            actor,
            evergreen.id,
            {"email": "walk.new@evergreen.example"},
            settings,
            throttle,
        )
        _, existing = await nominations.nominate(
            session, actor, evergreen.id, {"email": sam.email}, settings, throttle
        )
        await session.commit()
    authorize = dict(
        pair.split("=", 1)
        for pair in authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new()).split("?", 1)[1].split("&")
    )
    return Links(
        query={
            "/confirm-email": {"token": email},
            "/reset-password": {"token": reset},
            "/register/confirm": {"token": confirm},
            "/nominations/accept": {"token": newcomer},
            "/authorize": authorize,
        },
        path={
            "org_id": evergreen.id,
            "client_id": client,
            "existing": existing,
            "user_id": sam.id,
            "tin": "987654321",
            "name": "swagger-ui.css",  # /docs/assets/{name}: the offline Swagger UI
        },
    )


async def persona(identity: IdentityHarness, username: str | None) -> httpx.AsyncClient:
    browser = identity.client()
    if username is None:
        return browser
    page = await browser.get("/login")
    done = await submit_login(browser, page, username, PASSWORD)
    assert "You are signed in" in done.text, done.text
    browser.headers.update(bearer(await admin_token(identity, username)))
    return browser


def differences(
    before: dict[str, list[tuple[Any, ...]]], after: dict[str, list[tuple[Any, ...]]], path: str
) -> list[str]:
    changed = []
    for name, rows in before.items():
        if path == "/authorize" and name == "authorization_codes":
            continue
        if after[name] != rows:
            changed.append(name)
    return changed


async def test_no_get_changes_the_database(identity: IdentityHarness) -> None:
    routes = get_routes(identity)
    assert {"/account/mfa", "/confirm-email", "/register/confirm", "/console/orgs/{org_id}"} <= (
        set(routes)
    )
    found = await links(identity)
    writes: list[tuple[str | None, str, list[str]]] = []
    for username in PERSONAS:
        browser = await persona(identity, username)
        try:
            for path in routes:
                url = path.format(**found.path)
                query = dict(found.query.get(path, {}))
                if path == "/nominations/accept" and username == "sam.biller":
                    query["token"] = found.path["existing"]
                before = await snapshot(identity)
                response = await browser.get(url, params=query)
                assert response.status_code < 500, (username, path, response.text)
                changed = differences(before, await snapshot(identity), path)
                if changed:
                    writes.append((username, path, changed))
        finally:
            await browser.aclose()
    assert writes == [], "GET requests that changed the database"
