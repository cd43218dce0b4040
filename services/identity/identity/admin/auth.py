"""Who is calling the admin API, and what they may see: authorization in one place.

The caller presents an access token of this issuer with scope `tinpass:admin`.
An administrator manages the organizations they administer and every
sub-organization below them; anything else answers 404, exactly like something
that does not exist, so no administrator can learn of another organization.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from identity.deps import KeyStoreDep, SettingsDep, StoreDep
from identity.local_tokens import verify_access_token
from identity.models import Membership, Organization, User
from identity.problems import AdminProblem, not_found
from policy import InvalidToken
from policy.names import Scope
from policy.rfc6750 import bearer_token, www_authenticate


@dataclass(frozen=True)
class Administrator:
    user: User
    managed: frozenset[str]

    def organization(self, org_id: str) -> str:
        """The organization id when this administrator manages it; 404 otherwise."""
        if org_id not in self.managed:
            raise not_found("organization")
        return org_id


async def subtree(session: AsyncSession, roots: set[str]) -> frozenset[str]:
    """The organizations `roots` and everything below them (a recursive query)."""
    if not roots:
        return frozenset()
    tree = select(Organization.id).where(Organization.id.in_(roots)).cte("tree", recursive=True)
    tree = tree.union_all(select(Organization.id).where(Organization.parent_id == tree.c.id))
    return frozenset(await session.scalars(select(tree.c.id)))


async def token_user(
    request: Request, store: StoreDep, keystore: KeyStoreDep, settings: SettingsDep
) -> User:
    """The active user of a valid access token of this issuer with `tinpass:admin`."""
    try:
        token = bearer_token(request.headers.get("authorization"))
        claims, _ = await verify_access_token(token, keystore, store, settings, settings.issuer)
    except InvalidToken as error:
        silent = error.error == "invalid_request"
        failure = AdminProblem(401, "Authentication required", error.description, "unauthorized")
        failure.headers["WWW-Authenticate"] = www_authenticate(
            None if silent else error.error, None if silent else error.description
        )
        raise failure from error
    if Scope.ADMIN not in str(claims.get("scope", "")).split():
        failure = AdminProblem(
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
        raise AdminProblem(
            401, "Authentication required", "The account is not active.", "unauthorized"
        )
    return user


async def administrator_for(session: AsyncSession, user: User) -> Administrator:
    """What `user` administers: active organizations where they are an administrator,
    and everything below them."""
    roots = set(
        await session.scalars(
            select(Membership.organization_id)
            .join(Organization, Organization.id == Membership.organization_id)
            .where(
                Membership.user_id == user.id,
                Membership.role == "administrator",
                Organization.status == "active",
            )
        )
    )
    return Administrator(user, await subtree(session, roots))


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
        raise AdminProblem(404, "Not found", "Not found.", "not-found")
    return user


CurrentAdministrator = Annotated[Administrator, Depends(current_administrator)]
CurrentOperator = Annotated[User, Depends(current_operator)]
