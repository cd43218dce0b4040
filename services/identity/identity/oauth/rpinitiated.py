"""OpenID Connect RP-Initiated Logout 1.0: the end_session endpoint.

With a valid `id_token_hint` naming this browser's session (its `sub` is the
session's account and its `sid`, when present, the session itself) the SSO
session ends at once and the browser goes to the `post_logout_redirect_uri`,
only when that URI is registered for the client. Without one, or with a hint
issued to somebody else or for another session, the user confirms on a
CSRF-protected page first, so a cross-site link cannot sign anybody out.
"""

from __future__ import annotations

from typing import Any

from authlib.oidc.rpinitiated import EndSessionEndpoint, EndSessionRequest

from identity.oauth.bridge import current, on_loop
from policy.names import Claim


def hint_names_session(request: EndSessionRequest, user_id: str, session_id: str) -> bool:
    """Whether the validated `id_token_hint` was issued for this account and session."""
    claims = request.id_token_claims
    if claims is None or claims.get("sub") != user_id:
        return False
    sid = claims.get(Claim.SID)
    return sid is None or sid == session_id


class TinpassEndSessionEndpoint(EndSessionEndpoint):
    def get_server_jwks(self) -> dict[str, Any]:
        return current().jwks

    def end_session(self, end_session_request: EndSessionRequest) -> None:
        ctx = current()
        if ctx.sso_session_id:
            on_loop(ctx.store.end_sso_session, ctx.sso_session_id)
            client = end_session_request.client
            ctx.emit(
                "session.ended",
                client_id=client.client_id if client else None,
                sid=ctx.sso_session_id,
            )
