"""Clients as the protocol sees them, and the client assertions already used."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from identity.models import Client, UsedClientAssertion
from identity.store import denylist
from identity.store.base import StoreBase, dt, now, verified
from identity.store.snapshots import ClientInfo
from policy.inputs import acceptable, column_length

CLIENT_ID_LENGTH = column_length(Client.client_id)
JTI_LENGTH = column_length(UsedClientAssertion.jti)


class ClientStore(StoreBase):
    async def get_client(self, client_id: str) -> ClientInfo | None:
        """A client with its organization and verified TINs (what a client_credentials
        token carries), in one read; callers cache it (`identity.oauth.client_cache`)."""
        if not acceptable(client_id, CLIENT_ID_LENGTH):  # e.g. from a Basic header
            return None
        row = await self.session.scalar(
            select(Client)
            .options(selectinload(Client.tax_ids))
            .where(Client.client_id == client_id)
        )
        if row is None:
            return None
        return ClientInfo(
            client_id=row.client_id,
            name=row.name,
            secret_digest=row.secret_digest,
            token_endpoint_auth_method=row.token_endpoint_auth_method,
            redirect_uris=tuple(row.redirect_uris),
            post_logout_redirect_uris=tuple(row.post_logout_redirect_uris),
            grant_types=tuple(row.grant_types),
            response_types=tuple(row.response_types),
            scope=row.scope,
            jwks=row.jwks,
            organization_id=row.organization_id,
            pepper=self.pepper,
            resources=tuple(row.resources),
            tax_ids=verified(row.tax_ids),
        )

    async def remember_assertion(self, client_id: str, jti: str, expires_at: int) -> bool:
        """Record a client assertion's jti; False when it was seen before (RFC 7523 §3)
        or cannot be kept (control characters, longer than the column).

        One conditional upsert: a new jti is inserted; a jti already there is a
        replay unless its assertion has expired (the janitor has not pruned it
        yet), in which case it is taken over. Concurrent uses of one jti meet on
        the primary key, so exactly one of them is accepted."""
        if not acceptable(jti, JTI_LENGTH):
            return False
        insert = denylist.upsert(self.session, UsedClientAssertion).values(
            client_id=client_id, jti=jti, expires_at=dt(expires_at)
        )
        result = await self.session.execute(
            insert.on_conflict_do_update(
                index_elements=["client_id", "jti"],
                set_={"expires_at": insert.excluded.expires_at},
                where=UsedClientAssertion.expires_at <= now(),
            )
        )
        return getattr(result, "rowcount", 0) == 1
