"""TIN projection: the claims that say whom a token may act for.

A claim hook of the RFC 9068 generator. A user's token carries the organization
context chosen when the user was loaded (`identity.store.org_context`): one
organization's `org_id`, granted `tax_ids` and roles, or, for a user of several
organizations who was not asked for one, the union of their TINs, the roles held
in all of them and a per-organization `orgs` claim. Everything is read fresh from
the database at issuance, so a TIN removed from a user never appears in a token
issued afterwards, refreshed ones included. A client_credentials token carries
the owning organization and the TINs granted to the client, as read with the
client (cached for at most `client_cache_seconds`, `identity.oauth.client_cache`). TIN lists beyond
`token_tin_array_limit` are one space-delimited string, so the token stays small.
"""

from __future__ import annotations

from typing import Any

from identity.oauth.bridge import current
from identity.store.org_context import access_token_claims, beyond_limit, encode_tins
from identity.store.snapshots import ClientInfo, Subject
from policy.decision import INTEGRATOR
from policy.names import Claim


def project_tax_ids(
    client: ClientInfo, grant_type: str, user: Subject | None, scope: str
) -> dict[str, Any]:
    limit = current().settings.token_tin_array_limit
    if user is not None:
        return access_token_claims(user, limit)
    return {
        Claim.ORG_ID: client.organization_id,
        Claim.TAX_IDS: encode_tins(client.tax_ids, beyond_limit(len(client.tax_ids), limit)),
        Claim.ROLES: [INTEGRATOR],
    }
