"""The administration console: server-rendered pages over the same service
functions and the same authorization rule as the admin REST API.

The signed-in user (SSO session) is turned into an `Administrator` exactly as a
token is (`administrator_for`), and every page and action passes the organization
id through `Administrator.organization`: anything outside the administrator's
subtree is a 404 page. Every form carries a CSRF token; a refused action shows
its message on the page; a done one redirects (303) with a fixed notice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import RedirectResponse, Response

from identity import plan_roles, suspensions
from identity.admin import nominations, review, service
from identity.admin.administrators import Administrator, administrator_for
from identity.deps import SettingsDep, StoreDep, request_id, source_address
from identity.mail import Mailer
from identity.models import Membership, Nomination, Organization, User
from identity.security import format_tin
from identity.settings import Settings
from identity.web import csrf
from identity.web.account import _account
from identity.web.forms import checked
from identity.web.pages import render
from policy.problems import Problem

router = APIRouter(prefix="/console")
NOTICES = {
    "profile": "The organization's profile was saved.",
    "tin_pending": "The Tax ID waits for TINpass operators to verify that your organization "
    "owns it; it can be granted once verified, and you will hear from us by e-mail.",
    "tin_removed": "The Tax ID was removed; nobody acts for it any more.",
    "suborg": "The sub-organization was created.",
    "nominated": "The invitation was sent.",
    "nominated_bare": "The invitation was sent, but it gives no Tax ID and no plan role: the "
    "person can sign in, yet health plans' portals will show them nothing until you give "
    "them some under “People and their access” once they have joined.",
    "resent": "A new invitation link was sent; the old one no longer works.",
    "cancelled": "The invitation was cancelled.",
    "member": "The changes were saved; the person's next token reflects them.",
    "suspended": "The account is suspended and its sessions ended.",
    "reactivated": "The account is active again.",
    "removed": "The person no longer belongs to this organization (an account that belongs "
    "to no other organization is closed).",
    "reset": "A password reset link was sent to the person's e-mail address.",
    "own_plan_roles": "Your plan roles were saved. Sign in to the health plan's portal again "
    "to use them.",
}
EXPIRED_FORM = "This form expired. Reload the page and try again."


@dataclass(frozen=True)
class Console:
    user: User
    admin: Administrator


async def current_console(request: Request, store: Any, settings: Settings) -> Console | None:
    account = await _account(request, store, settings)
    if account is None:
        return None
    return Console(account.user, await administrator_for(store.session, account.user))


def page(request: Request, settings: Settings, name: str, **context: Any) -> Response:
    token, new_cookie = csrf.issue(request, settings.secret_key)
    response = render(request, name, csrf_token=token, **context)
    csrf.set_cookie(response, new_cookie, secure=settings.secure_cookies)
    return response


def not_found_page(request: Request) -> Response:
    return render(
        request,
        "message.html",
        status_code=404,
        title="Not found",
        error=True,
        message="No organization was found that you administer.",
        link="/console",
        link_text="Back to the console",
    )


def to_login() -> Response:
    return RedirectResponse("/login", status_code=303)


@router.get("")
async def home(request: Request, settings: SettingsDep, store: StoreDep) -> Response:
    console = await current_console(request, store, settings)
    if console is None:
        return to_login()
    session = store.session
    managed = list(
        await session.scalars(
            select(Organization)
            .where(Organization.id.in_(console.admin.managed))
            .order_by(Organization.name)
        )
    )
    waiting = list(
        await session.scalars(
            select(Organization)
            .join(Membership, Membership.organization_id == Organization.id)
            .where(
                Membership.user_id == console.user.id,
                Membership.role == "administrator",
                Organization.status != "active",
            )
        )
    )
    return page(
        request,
        settings,
        "console_home.html",
        title="Administration",
        user=console.user,
        managed=managed,
        waiting=waiting,
    )


async def _org_context(session: AsyncSession, console: Console, org_id: str) -> dict[str, Any]:
    actor = service.Actor(console.admin, None, None)
    org = await service.organization(session, actor, org_id)
    members = await review.rows(session, actor, org_id)
    own = [m for m in members if m["organization"] == org.name]
    admins = [m for m in own if m["role"] == "administrator" and m["status"] == "active"]
    children = list(
        await session.scalars(select(Organization).where(Organization.parent_id == org.id))
    )
    invitations = list(
        await session.scalars(
            select(Nomination).where(
                Nomination.organization_id == org.id,
                Nomination.accepted_at.is_(None),
                Nomination.cancelled_at.is_(None),
            )
        )
    )
    grantable = sorted(format_tin(t) for t in await service.subtree_tins(session, actor, org_id))
    return {
        "org": org,
        "tins": sorted(org.tax_ids, key=lambda t: t.tin),
        "format_tin": format_tin,
        "members": members,
        "only_one_admin": len(admins) == 1,
        "children": children,
        "invitations": invitations,
        "grantable": grantable,
        "plan_roles": plan_roles.choices(),
        "liftable": suspensions.liftable(suspensions.level_of(console.user)),
        # the viewer's own plan roles here (None: not a member): none prompts her to take one
        "own_plan_roles": next(
            (m["plan_roles"] for m in own if m["user_id"] == console.user.id), None
        ),
    }


@router.get("/orgs/{org_id}")
async def organization(
    org_id: str, request: Request, settings: SettingsDep, store: StoreDep, done: str = ""
) -> Response:
    console = await current_console(request, store, settings)
    if console is None:
        return to_login()
    try:
        context = await _org_context(store.session, console, org_id)
    except Problem:
        return not_found_page(request)
    return page(
        request,
        settings,
        "console_org.html",
        title=context["org"].name,
        notice=NOTICES.get(done),
        **context,
    )


@router.get("/orgs/{org_id}/access-review.csv")
async def access_review_csv(
    org_id: str, request: Request, settings: SettingsDep, store: StoreDep
) -> Response:
    """Who has access to which TINs, with role, last sign-in and two-step status."""
    console = await current_console(request, store, settings)
    if console is None:
        return to_login()
    try:
        entries = await review.rows(store.session, service.Actor(console.admin, None, None), org_id)
    except Problem:
        return not_found_page(request)
    return Response(
        review.as_csv(entries),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="access-review.csv"'},
    )


Action = Callable[[AsyncSession, service.Actor, dict[str, Any]], Awaitable[str]]


async def perform(
    request: Request,
    settings: Settings,
    store: Any,
    org_id: str,
    action: Action,
    back: str | None = None,
) -> Response:
    """The common shape of every console action: session, CSRF, the one authorization
    rule, the service call and its audit event in one commit, then a 303 with a notice."""
    console = await current_console(request, store, settings)
    if console is None:
        return to_login()
    form = checked(await request.form())
    fields: dict[str, Any] = {k: form.getlist(k) for k in form}
    flat = {k: v[0] if len(v) == 1 else v for k, v in fields.items()}
    if not csrf.valid(request, settings.secret_key, str(flat.get("csrf_token", ""))):
        return error_page(request, settings, 400, EXPIRED_FORM)
    actor = service.Actor(console.admin, request_id(request), source_address(request))
    # Signing in touched the SSO session's last-seen time: commit that on its own, so
    # the action's transaction holds no lock on it (administrators acting on each
    # other at once would otherwise deadlock on each other's sessions).
    await store.session.commit()
    try:
        notice = await action(store.session, actor, fields)
    except Problem as problem:
        await store.session.rollback()
        if problem.status == 404:
            return not_found_page(request)
        return error_page(request, settings, problem.status, problem.detail, org_id)
    await store.session.commit()
    return RedirectResponse(f"{back or f'/console/orgs/{org_id}'}?done={notice}", status_code=303)


def error_page(
    request: Request, settings: Settings, status: int, message: str, org_id: str | None = None
) -> Response:
    return render(
        request,
        "message.html",
        status_code=status,
        title="That was not possible",
        error=True,
        message=message,
        link=f"/console/orgs/{org_id}" if org_id else "/console",
        link_text="Back",
    )


def one(fields: dict[str, Any], name: str) -> str:
    values = fields.get(name) or [""]
    return str(values[0]).strip()


def many(fields: dict[str, Any], name: str) -> list[str]:
    return [str(v) for v in fields.get(name, []) if str(v).strip()]


def mailer_of(request: Request) -> Mailer:
    mailer: Mailer = request.app.state.mailer
    return mailer


async def send_invitation(
    mailer: Mailer, settings: Settings, session: AsyncSession, row: Nomination, token: str
) -> None:
    org = await session.get(Organization, row.organization_id)
    await nominations.send(mailer, settings, row, org.name if org else "", token)
