"""Who is calling the admin API: the FastAPI dependencies that authenticate it.

The caller presents an access token of this issuer with scope `tinpass:admin`;
what they may then see is `identity.admin.administrators` (the one authorization
rule, shared with the console). Operators' API answers 404 to anyone else.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from identity.admin.administrators import Administrator, administrator_for
from identity.deps import KeyStoreDep, SettingsDep, StoreDep
from identity.local_tokens import verify_access_token
from identity.models import User
from policy import InvalidToken
from policy.names import Claim, Scope
from policy.observability import identify
from policy.problems import Problem
from policy.rfc6750 import bearer_token, www_authenticate


async def token_user(
    request: Request, store: StoreDep, keystore: KeyStoreDep, settings: SettingsDep
) -> User:
    """The active user of a valid access token of this issuer with `tinpass:admin`."""
    try:
        token = bearer_token(request.headers.get("authorization"))
        claims, _ = await verify_access_token(token, keystore, store, settings, settings.issuer)
    except InvalidToken as error:
        silent = error.error == "invalid_request"
        failure = Problem(401, "Authentication required", error.description, "unauthorized")
        failure.headers["WWW-Authenticate"] = www_authenticate(
            None if silent else error.error, None if silent else error.description
        )
        raise failure from error
    identify(request.scope, claims.get("client_id"), claims.get(Claim.ORG_ID))  # its log line
    if Scope.ADMIN not in str(claims.get("scope", "")).split():
        failure = Problem(
            403,
            "Access denied",
            f"This needs a token with the scope {Scope.ADMIN}.",
            "insufficient-scope",
        )
        failure.headers["WWW-Authenticate"] = www_authenticate(
            "insufficient_scope", f"scope {Scope.ADMIN} needed"
        )
        raise failure
    user = await store.session.get(User, str(claims.get("sub")))
    if user is None or user.status != "active":
        raise Problem(401, "Authentication required", "The account is not active.", "unauthorized")
    return user


async def current_administrator(
    request: Request, store: StoreDep, keystore: KeyStoreDep, settings: SettingsDep
) -> Administrator:
    user = await token_user(request, store, keystore, settings)
    return await administrator_for(store.session, user)


async def current_operator(
    request: Request, store: StoreDep, keystore: KeyStoreDep, settings: SettingsDep
) -> User:
    """A TINpass operator; anyone else gets 404, as if the operator API did not exist."""
    user = await token_user(request, store, keystore, settings)
    if not user.is_operator:
        raise Problem(404, "Not found", "Not found.", "not-found")
    return user


CurrentAdministrator = Annotated[Administrator, Depends(current_administrator)]
CurrentOperator = Annotated[User, Depends(current_operator)]
