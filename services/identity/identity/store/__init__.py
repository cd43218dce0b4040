"""Storage for the OAuth 2.0 / OpenID Connect protocol, on one AsyncSession.

One small interface per concern, implemented once with async SQLAlchemy: clients
(`clients`), the signed-in subject (`subjects`), authorization codes (`codes`),
grants and the standing of access tokens (`grants`, `denylist`), SSO sessions
(`sessions`). They hand the protocol code frozen snapshots (`snapshots`) and record
what it issued. The protocol (`identity.oauth`) imports this package; nothing here
imports the protocol. The caller owns the transaction; nothing here commits.
`idempotency` (the admin API's idempotency keys) is storage of its own, outside
`OAuthStore`.
"""

from __future__ import annotations

from identity.store.clients import ClientStore
from identity.store.codes import CodeStore, NewCode
from identity.store.grants import NewTokens, TokenStore
from identity.store.sessions import SessionStore
from identity.store.subjects import SubjectStore

__all__ = ["NewCode", "NewTokens", "OAuthStore"]


class OAuthStore(ClientStore, SubjectStore, CodeStore, TokenStore, SessionStore):
    """Protocol storage over the request's session (no commits here): every concern's
    interface on the one session a request holds."""
