"""The nominee's pages: follow the invitation link, then either choose a username
and password (a new account) or, when the address already has an account, sign in
with it and join the organization (a person may work for several organizations)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from identity import audit
from identity.admin import nominations, service
from identity.deps import SessionDep, SettingsDep, StoreDep, request_id, source_address
from identity.models import Nomination, Organization, User
from identity.password_policy import PolicyViolation
from identity.security import format_tin
from identity.settings import Settings
from identity.web import after_post, csrf
from identity.web.account import _account
from identity.web.forms import Field, form_page, posted
from identity.web.pages import render

router = APIRouter(tags=["nominations"])
INVITATION_GONE = (
    "This invitation expired, was cancelled or was already used. Ask your administrator."
)


def _gone(request: Request) -> Response:
    return render(
        request,
        "message.html",
        status_code=400,
        title="Invitation not valid",
        error=True,
        message=INVITATION_GONE,
    )


def _accept_form(
    request: Request,
    settings: Settings,
    token: str,
    offer: Offer,
    errors: dict[str, list[str]] | None = None,
    status_code: int = 200,
    username: str = "",
) -> Response:
    """Choose a username and password; a refused password keeps the username typed."""
    errors = errors or {}
    return form_page(
        request,
        settings,
        title=f"Join {offer.org_name} on TINpass",
        action="/nominations/accept",
        submit="Create my account",
        status_code=status_code,
        hidden={"token": token},
        intro=offer.text(),
        fields=[
            Field(
                "username",
                "Choose a username",
                autocomplete="username",
                value=username,
                errors=errors.get("username", []),
            ),
            Field(
                "password",
                "Choose a password",
                "password",
                "new-password",
                errors=errors.get("password", []),
            ),
        ],
    )


@dataclass(frozen=True)
class Offer:
    """What an invitation gives, in words: the organization, role, plan roles, Tax IDs."""

    org_name: str
    role: str
    plan_roles: list[str]
    tax_ids: list[str]

    def text(self, *, joined: bool = False) -> str:
        """What the invitation offers (the join page), or what was granted (`joined`)."""
        role = "an administrator" if self.role == "administrator" else "a member"
        tins = (
            f"for the Tax ID{'s' if len(self.tax_ids) > 1 else ''} {', '.join(self.tax_ids)}"
            if self.tax_ids
            else "for no Tax ID yet"
        )
        roles = (
            f"with the plan role{'s' if len(self.plan_roles) > 1 else ''} "
            f"{', '.join(self.plan_roles)}"
            if self.plan_roles
            else "with no plan role yet"
        )
        if joined:
            text = f"You now belong to {self.org_name} as {role}, {tins}, {roles}."
        else:
            text = f"{self.org_name} invites you to TINpass as {role}, {tins}, {roles}."
        if not (self.tax_ids and self.plan_roles):
            text += (
                " Health plans' portals will not show you eligibility or claims until your "
                "administrator gives you a Tax ID and a plan role; ask them if you need them."
            )
        return text


async def _offer(session: Any, row: Nomination) -> Offer:
    usable = await service.usable_tins(session, row.organization_id)
    return Offer(
        await _org_name(session, row),
        row.role,
        sorted(row.plan_roles),
        [format_tin(t) for t in sorted(set(row.tax_ids)) if t in usable],
    )


async def _org_name(session: Any, row: Nomination) -> str:
    org = await session.get(Organization, row.organization_id)
    return org.name if org else "your organization"


@router.get("/nominations/accept")
async def accept_form(
    request: Request, settings: SettingsDep, store: StoreDep, token: str = ""
) -> Response:
    session = store.session
    row = await nominations.open_nomination(session, token)
    if row is None:
        return _gone(request)
    existing = await nominations.existing_account(session, row)
    offer = await _offer(session, row)
    if existing is None:
        return _accept_form(request, settings, token, offer)
    account = await _account(request, store, settings)
    name = offer.org_name
    if account is None or account.user.id != existing.id:
        return render(
            request,
            "message.html",
            title=f"Join {name}",
            message="You already have a TINpass account with this e-mail address. Sign in "
            "with it, then open the link in the invitation again to join.",
            link="/login",
            link_text="Sign in",
        )
    return form_page(
        request,
        settings,
        title=f"Join {name}",
        action="/nominations/join",
        submit=f"Join {name}",
        intro=f"You are signed in as {existing.username}. {offer.text()}",
        hidden={"token": token},
        fields=[],
    )


async def _accepted(request: Request, session: Any, row: Nomination, user: User) -> None:
    await audit.record(
        session,
        "nomination.accepted",
        actor_type="user",
        actor_id=user.id,
        organization_id=row.organization_id,
        target_type="user",
        target_id=user.id,
        request_id=request_id(request),
        source_address=source_address(request),
    )
    await session.commit()


@router.post("/nominations/accept")
async def accept(request: Request, settings: SettingsDep, session: SessionDep) -> Response:
    fields = await posted(request)
    token = fields.get("token", "")
    row = await nominations.open_nomination(session, token)
    if row is None or not csrf.valid(request, settings.secret_key, fields.get("csrf_token")):
        return _gone(request)
    offer = await _offer(session, row)
    username = fields.get("username", "")
    try:
        user = await nominations.accept(
            session, settings, row, username, fields.get("password", "")
        )
    except PolicyViolation as violation:
        await session.rollback()
        by_field: dict[str, list[str]] = {}
        for v in violation.violations:
            name = "username" if v.code.startswith("username") else "password"
            by_field.setdefault(name, []).append(v.message)
        return _accept_form(request, settings, token, offer, by_field, 400, username)
    except ValueError as error:
        await session.rollback()
        errors = {"username": [str(error)]}
        return _accept_form(request, settings, token, offer, errors, 400, username)
    await _accepted(request, session, row, user)
    return _welcome(settings, "Your account is ready", user, offer.text(joined=True), False)


@router.post("/nominations/join")
async def join(request: Request, settings: SettingsDep, store: StoreDep) -> Response:
    fields = await posted(request)
    session = store.session
    row = await nominations.open_nomination(session, fields.get("token", ""))
    account = await _account(request, store, settings)
    valid = csrf.valid(request, settings.secret_key, fields.get("csrf_token"))
    existing = await nominations.existing_account(session, row) if row else None
    if row is None or not valid or account is None or existing is None:
        return _gone(request)
    if account.user.id != existing.id:
        return _gone(request)
    offer = await _offer(session, row)
    await nominations.join(session, row, account.user)
    await _accepted(request, session, row, account.user)
    return _welcome(
        settings, f"You joined {offer.org_name}", account.user, offer.text(joined=True), True
    )


def _welcome(
    settings: Settings, title: str, user: User, offer_text: str, signed_in: bool
) -> Response:
    """After the invitation is used (post/redirect/get): the welcome page, which a reload
    shows again instead of sending the used invitation a second time."""
    data = {
        "title": title,
        "username": user.username,
        "given_name": user.given_name,
        "offer_text": offer_text,
        "signed_in": signed_in,
    }
    return after_post.redirect(
        "/nominations/welcome", data, secret_key=settings.secret_key, secure=settings.secure_cookies
    )


@router.get("/nominations/welcome")
async def welcome(request: Request, settings: SettingsDep) -> Response:
    done = after_post.read(request, settings.secret_key)
    if done is None:
        return render(
            request,
            "message.html",
            title="Welcome to TINpass",
            message="Your invitation was used. Sign in to TINpass with your username and password.",
            link="/login",
            link_text="Sign in",
        )
    return render(request, "welcome.html", **done)
