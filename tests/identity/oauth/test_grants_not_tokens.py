"""Grants are stored, access tokens are not: client_credentials writes nothing but its
audit event, and revocation works through the deny-list and the status of what a
token depends on (client, user, grant, SSO session), at introspection and userinfo."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, inspect, select, table, update

from identity.janitor import Janitor
from identity.models import Client, DeniedToken, User
from identity.store import OAuthStore
from tests.identity.flows import exchange_portal_code, portal_code, portal_tokens
from tests.identity.harness import PORTAL, IdentityHarness
from tests.support.oidc import jwt_claims

CURL = "acme-curl"


async def row_counts(identity: IdentityHarness) -> dict[str, int]:
    """The number of rows in every table of the identity database."""
    async with identity.session() as session:
        connection = await session.connection()
        names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        return {
            name: int(await session.scalar(select(func.count()).select_from(table(name))) or 0)
            for name in names
        }


async def curl_token(client: httpx.AsyncClient, identity: IdentityHarness) -> str:
    response = await client.post(
        "/token",
        data={"grant_type": "client_credentials", "scope": "claims:read"},
        auth=(CURL, identity.credentials.curl_secret),
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def introspect(
    identity: IdentityHarness, token: str, client_id: str = PORTAL
) -> dict[str, Any]:
    secret = {PORTAL: identity.credentials.portal_secret, CURL: identity.credentials.curl_secret}
    async with identity.client() as client:
        response = await client.post(
            "/introspect", data={"token": token}, auth=(client_id, secret[client_id])
        )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def userinfo(identity: IdentityHarness, token: str) -> httpx.Response:
    async with identity.client() as client:
        return await client.get("/userinfo", headers={"Authorization": f"Bearer {token}"})


async def test_client_credentials_tokens_grow_no_table_but_the_audit_trail(
    identity: IdentityHarness,
) -> None:
    before = await row_counts(identity)
    async with identity.client() as client:
        tokens = [await curl_token(client, identity) for _ in range(50)]
    after = await row_counts(identity)
    grown = {name: after[name] - before[name] for name in after if after[name] != before[name]}
    assert grown and all(name.startswith("audit") for name in grown), grown
    assert sum(grown.values()) >= 50, "each token is still audited"
    assert (await introspect(identity, tokens[-1], CURL))["active"] is True


async def test_a_revoked_access_token_is_denied_at_userinfo_until_it_expires(
    identity: IdentityHarness,
) -> None:
    tokens = await portal_tokens(identity, "sam.biller")
    access = tokens["access_token"]
    assert (await userinfo(identity, access)).status_code == 200
    async with identity.client() as client:
        revoked = await client.post(
            "/revoke",
            data={"token": access, "token_type_hint": "access_token"},
            auth=(PORTAL, identity.credentials.portal_secret),
        )
    assert revoked.status_code == 200
    refused = await userinfo(identity, access)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_token"
    assert (await introspect(identity, access)) == {"active": False}
    claims = jwt_claims(access)
    async with identity.session() as session:
        entry = await session.get(DeniedToken, ("jti", claims["jti"]))
    assert entry is not None and int(entry.expires_at.timestamp()) == claims["exp"]
    assert (await userinfo(identity, tokens["access_token"])).status_code == 401
    janitor = Janitor(identity.app.state.sessionmaker, identity.settings)
    await janitor.sweep(datetime.fromtimestamp(claims["exp"], UTC) - timedelta(seconds=1))
    async with identity.session() as session:
        assert await session.get(DeniedToken, ("jti", claims["jti"])) is not None
    await janitor.sweep(datetime.fromtimestamp(claims["exp"], UTC) + timedelta(seconds=1))
    async with identity.session() as session:
        assert await session.get(DeniedToken, ("jti", claims["jti"])) is None


async def test_revoking_the_refresh_token_denies_its_familys_access_tokens(
    identity: IdentityHarness,
) -> None:
    first = await portal_tokens(identity, "sam.biller")
    other = await portal_tokens(identity, "sam.biller")
    async with identity.client() as client:
        refreshed = await client.post(
            "/token",
            data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
            auth=(PORTAL, identity.credentials.portal_secret),
        )
        assert refreshed.status_code == 200, refreshed.text
        second = refreshed.json()
        assert (
            jwt_claims(second["access_token"])["grant_id"]
            == (jwt_claims(first["access_token"])["grant_id"])
        )
        await client.post(
            "/revoke",
            data={"token": second["refresh_token"]},
            auth=(PORTAL, identity.credentials.portal_secret),
        )
    for access in (first["access_token"], second["access_token"]):
        assert (await introspect(identity, access)) == {"active": False}
        assert (await userinfo(identity, access)).status_code == 401
    assert (await introspect(identity, other["access_token"]))["active"] is True, (
        "another grant of the same user and client stands"
    )


async def test_a_replayed_code_denies_the_access_token_it_issued(
    identity: IdentityHarness,
) -> None:
    async with identity.client() as browser:
        code, pkce = await portal_code(identity, browser, "sam.biller")
        assert pkce is not None
        first = await exchange_portal_code(identity, browser, code, pkce.verifier)
        access = first.json()["access_token"]
        assert (await introspect(identity, access))["active"] is True
        replay = await exchange_portal_code(identity, browser, code, pkce.verifier)
    assert replay.json()["error"] == "invalid_grant"
    assert (await introspect(identity, access)) == {"active": False}


async def test_an_ended_sso_session_ends_its_access_tokens(identity: IdentityHarness) -> None:
    tokens = await portal_tokens(identity, "sam.biller")
    access = tokens["access_token"]
    sid = jwt_claims(access)["sid"]
    assert sid == jwt_claims(tokens["id_token"])["sid"]
    assert (await introspect(identity, access))["active"] is True
    async with identity.session() as session:
        await OAuthStore(session, identity.settings).end_sso_session(sid)
        await session.commit()
    assert (await introspect(identity, access)) == {"active": False}
    assert (await userinfo(identity, access)).status_code == 401


async def test_a_user_who_may_not_sign_in_has_no_active_token(identity: IdentityHarness) -> None:
    access = (await portal_tokens(identity, "hana.harb"))["access_token"]

    async def set_status(status: str) -> None:
        async with identity.session() as session:
            await session.execute(
                update(User).where(User.username == "hana.harb").values(status=status)
            )
            await session.commit()

    await set_status("disabled")
    try:
        assert (await introspect(identity, access)) == {"active": False}
        assert (await userinfo(identity, access)).status_code == 401
    finally:
        await set_status("active")
    assert (await introspect(identity, access))["active"] is True, "read fresh, not denied"


async def shift_created(identity: IdentityHarness, client_id: str, created: datetime) -> datetime:
    """Set a client's creation time (as if deleted and made again); the old one back."""
    async with identity.session() as session:
        row = await session.get(Client, client_id)
        assert row is not None
        previous = row.created_at
        await session.execute(
            update(Client).where(Client.client_id == client_id).values(created_at=created)
        )
        await session.commit()
        return previous


async def test_a_token_of_a_client_made_again_under_its_id_is_inactive(
    identity: IdentityHarness,
) -> None:
    async with identity.client() as client:
        access = await curl_token(client, identity)
    assert (await introspect(identity, access, CURL))["active"] is True
    previous = await shift_created(identity, CURL, datetime.now(UTC) + timedelta(seconds=5))
    try:
        assert (await introspect(identity, access, CURL)) == {"active": False}
    finally:
        await shift_created(identity, CURL, previous)
    assert (await introspect(identity, access, CURL))["active"] is True


async def test_a_users_token_ends_with_its_client_at_userinfo(identity: IdentityHarness) -> None:
    access = (await portal_tokens(identity, "ever.admin"))["access_token"]
    assert (await userinfo(identity, access)).status_code == 200
    previous = await shift_created(identity, PORTAL, datetime.now(UTC) + timedelta(seconds=5))
    try:
        refused = await userinfo(identity, access)
        assert (await introspect(identity, access)) == {"active": False}
    finally:
        await shift_created(identity, PORTAL, previous)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_token"
