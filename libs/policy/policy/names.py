"""Scope and claim names of TINpass tokens, defined once: identity issues them, the
gateway and the plans' APIs read them. (Tests keep the literal strings: they check
the wire format.)"""

from __future__ import annotations

from typing import Final


class Scope:
    """OAuth 2.0 scopes a client may ask for (OpenID Connect's and TINpass's own)."""

    OPENID: Final = "openid"
    PROFILE: Final = "profile"
    EMAIL: Final = "email"
    OFFLINE_ACCESS: Final = "offline_access"
    ELIGIBILITY_READ: Final = "eligibility:read"
    CLAIMS_READ: Final = "claims:read"
    CLAIMS_WRITE: Final = "claims:write"
    ADMIN: Final = "tinpass:admin"  # identity's own admin API
    API: Final = (ELIGIBILITY_READ, CLAIMS_READ, CLAIMS_WRITE)  # the plans' APIs


class Claim:
    """TINpass's claims in access tokens, ID tokens and userinfo, and the session id."""

    ORG_ID: Final = "org_id"  # one organization: its id ...
    ORG_NAME: Final = "org_name"  # ... and name (ID token, userinfo)
    TAX_IDS: Final = "tax_ids"  # TINs: a JSON array, or one string beyond the limit
    ROLES: Final = "roles"  # plan roles (`policy.decision.PLAN_ROLES`, `integrator`)
    ORGS: Final = "orgs"  # several organizations: [{id, name, tax_ids, roles}]
    GRANT_ID: Final = "grant_id"  # the grant (refresh-token family) a user's token is of
    SID: Final = "sid"  # the SSO session (OpenID Connect Front/Back-Channel Logout)
