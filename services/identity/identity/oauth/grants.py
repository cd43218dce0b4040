"""RFC 6749 grants as small classes; storage through `identity.store`.

Authorization codes are single-use: a second use is a replay, which revokes
everything the code issued (RFC 6749 §4.1.2). Refresh tokens rotate on every use;
presenting a rotated one again revokes the whole family (RFC 9700 §4.14.2).
Both claims are conditional writes awaited where Authlib asks (`on_loop`), so the
winner is decided before anything is issued; plain writes are queued
(`ProtocolContext.later`) and run after the step.
"""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError, InvalidScopeError, grants
from authlib.oauth2.rfc6749.hooks import hooked

from identity.oauth.bridge import current, on_loop
from identity.oauth.rfc8707 import granted_resources
from identity.oauth.rfc9068 import new_token
from identity.oauth.wording import plain_list
from identity.store import NewCode
from identity.store.snapshots import CodeInfo, RefreshInfo, Subject

CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]


def _load_subject(source: CodeInfo | RefreshInfo, sid: str | None) -> Subject | None:
    """The user with fresh organization context (TINs and roles as they are now)."""
    load = partial(
        current().store.load_subject,
        source.user_id,
        source.organization_id,
        auth_time=source.auth_time,
        acr=source.acr,
        amr=source.amr,
        sid=sid,
        grant_id=source.family_id,
    )
    result: Subject | None = on_loop(load)
    return result


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def generate_authorization_code(self) -> str:
        return new_token(36)

    def save_authorization_code(self, code: str, request: Any) -> None:
        ctx = current()
        subject: Subject = request.user
        data = request.payload.data
        info = CodeInfo(
            client_id=request.client.client_id,
            user_id=subject.user_id,
            sso_session_id=subject.sid,
            organization_id=subject.organization_id,
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope,
            nonce=data.get("nonce"),
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
            auth_time=subject.auth_time,
            acr=subject.acr,
            amr=subject.amr,
            family_id=str(uuid.uuid4()),
            resources=granted_resources(request),
        )
        ctx.later(ctx.store.save_code, NewCode(code, info, ctx.settings.authorization_code_ttl))
        ctx.emit("authorization_code.issued", client_id=info.client_id, user_id=info.user_id)

    def query_authorization_code(self, code: str, client: Any) -> CodeInfo | None:
        ctx = current()
        info, replayed = on_loop(ctx.store.claim_code, code, client.client_id)
        if replayed and info is not None:
            ctx.later(ctx.store.revoke_family, info.family_id)
            ctx.emit(
                "authorization_code.replayed",
                client_id=info.client_id,
                user_id=info.user_id,
                outcome="failure",
            )
            return None
        return info

    def delete_authorization_code(self, authorization_code: CodeInfo) -> None:
        """Codes are marked used when claimed, so a replay can still be recognised."""

    def authenticate_user(self, authorization_code: CodeInfo) -> Subject | None:
        return _load_subject(authorization_code, authorization_code.sso_session_id)


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    @hooked
    def validate_token_request(self) -> None:
        """Authlib's, with the `after_validate_token_request` hook the code grant has.

        Scopes none of which the client may have are `invalid_scope`, not a token with
        an empty scope; when only some are allowed, the token carries those and the
        answer's `scope` says which (RFC 6749 §3.3: the server may issue a narrower
        scope and must then say so)."""
        super().validate_token_request()
        asked = self.request.payload.scope
        client = self.request.client
        if asked and not client.get_allowed_scope(asked):
            may = client.get_allowed_scope("").split()
            raise InvalidScopeError(
                f"This client may not have {plain_list(asked.split(), 'or')}: "
                f"it is registered for {plain_list(may, 'and')}."
            )

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshInfo | None:
        ctx = current()
        info, reused = on_loop(
            ctx.store.find_refresh, refresh_token, ctx.settings.refresh_grace_seconds
        )
        if info is None:
            return None
        if reused:
            ctx.later(ctx.store.revoke_family, info.family_id)
            ctx.emit(
                "refresh_token.reused",
                client_id=info.client_id,
                user_id=info.user_id,
                outcome="failure",
                family_id=info.family_id,
            )
            return None
        if info.successor is not None:
            return info
        return None if info.is_expired() or info.is_revoked() else info

    def create_token_response(self) -> tuple[int, dict[str, Any], Any]:
        """Exactly one rotation wins, claimed by a conditional update before anything
        is issued. A request that lost the race, or presents a rotated token again
        within the grace window, gets the pair the winning rotation issued."""
        token: RefreshInfo = self.request.refresh_token
        if token.successor is None:
            user = self.authenticate_user(token)
            if not user:
                raise InvalidRequestError("There is no 'user' for this token.")
            if on_loop(current().store.claim_rotation, token.id):
                return self._rotate(token, user)
            token = self._rotated_meanwhile()
        current().emit("refresh_token.reissued", client_id=token.client_id, user_id=token.user_id)
        return 200, dict(token.successor or {}), self.TOKEN_RESPONSE_HEADER

    def _rotate(self, token: RefreshInfo, user: Subject) -> tuple[int, dict[str, Any], Any]:
        issued: dict[str, Any] = self.issue_token(user, token)
        self.request.user = user
        self.save_token(issued)
        self.revoke_old_credential(token)
        return 200, issued, self.TOKEN_RESPONSE_HEADER

    def _rotated_meanwhile(self) -> RefreshInfo:
        """The token as the concurrent rotation that won left it (committed by now)."""
        ctx = current()
        raw = self.request.form["refresh_token"]
        info, _ = on_loop(ctx.store.find_refresh, raw, ctx.settings.refresh_grace_seconds)
        if info is None or info.successor is None:
            raise InvalidGrantError("The refresh token was used by another request.")
        return info

    def save_token(self, token: dict[str, Any]) -> Any:
        self.issued = dict(token)
        return super().save_token(token)

    def authenticate_user(self, refresh_token: RefreshInfo) -> Subject | None:
        return _load_subject(refresh_token, refresh_token.sso_session_id)

    def revoke_old_credential(self, refresh_token: RefreshInfo) -> None:
        ctx = current()
        ctx.later(ctx.store.mark_rotated, refresh_token.id, self.issued)
        ctx.emit(
            "refresh_token.rotated",
            client_id=refresh_token.client_id,
            user_id=refresh_token.user_id,
        )


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]

    @hooked
    def validate_token_request(self) -> None:
        """Authlib's, with the `after_validate_token_request` hook the code grant has.

        Scopes none of which the client may have are `invalid_scope`, not a token with
        an empty scope; when only some are allowed, the token carries those and the
        answer's `scope` says which (RFC 6749 §3.3: the server may issue a narrower
        scope and must then say so)."""
        super().validate_token_request()
        asked = self.request.payload.scope
        client = self.request.client
        if asked and not client.get_allowed_scope(asked):
            may = client.get_allowed_scope("").split()
            raise InvalidScopeError(
                f"This client may not have {plain_list(asked.split(), 'or')}: "
                f"it is registered for {plain_list(may, 'and')}."
            )
