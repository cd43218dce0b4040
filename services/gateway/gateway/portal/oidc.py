"""The portal's OpenID client (Authlib's Starlette client), its issuer's metadata and
keys kept for a bounded time.

Authlib keeps the discovery document (endpoints, `jwks_uri`) and the key set it checks
ID tokens with for the life of the process; the keys are fetched again only for an
unknown `kid`, so a key identity no longer publishes would stay trusted. Before each
use the portal forgets both once they are `jwks_refresh_interval` old (300 s), the
bound the gateway's token verifier keeps too: a moved endpoint or a key withdrawn at
identity stops being used here, and at every replica, within that time.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request

from gateway.settings import Settings

LOADED_AT = "_loaded_at"  # where Authlib notes when it fetched the discovery document


def expire(metadata: dict[str, Any], max_age: float, now: float) -> bool:
    """Forget the discovery document and the key set when fetched `max_age` ago or
    more (Authlib fetches them again on next use); whether they were forgotten."""
    loaded_at = metadata.get(LOADED_AT)
    if not isinstance(loaded_at, int | float) or now - loaded_at < max_age:
        return False
    metadata.pop(LOADED_AT, None)
    metadata.pop("jwks", None)
    return True


def tinpass(request: Request) -> Any:
    """The registered TINpass client, its metadata no older than the bound."""
    client = request.app.state.portal_oauth.tinpass
    settings: Settings = request.app.state.settings
    expire(client.server_metadata, settings.jwks_refresh_interval, time.time())
    return client
