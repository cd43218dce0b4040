"""TIN projection: the claims that say whom a token may act for.

A claim hook of the RFC 9068 generator. A user's token carries the organization
context of its membership (`org_id`, its granted `tax_ids`, the membership role
and plan roles), read fresh from the database at issuance, so a TIN removed from
a user never appears in a token issued afterwards, refreshed ones included. A
client_credentials token carries the owning organization and the TINs granted
to the client.
"""

from __future__ import annotations

from typing import Any

from identity.oauth.bridge import current, on_loop
from identity.oauth.models import ClientInfo, Subject


def project_tax_ids(
    client: ClientInfo, grant_type: str, user: Subject | None, scope: str
) -> dict[str, Any]:
    if user is not None:
        return {
            "org_id": user.organization_id,
            "tax_ids": list(user.tax_ids),
            "roles": list(user.roles),
        }
    context = on_loop(current().store.client_context, client.client_id)
    return {
        "org_id": context.organization_id,
        "tax_ids": list(context.tax_ids),
        "roles": ["integrator"],
    }
