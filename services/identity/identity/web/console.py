"""The administration console: server-rendered pages over the same service
functions and the same authorization rule as the admin REST API.

The signed-in user (SSO session) is turned into an `Administrator` exactly as a
token is (`administrator_for`), and every page and action passes the organization
id through `Administrator.organization`: anything outside the administrator's
subtree is a 404 page. Every form carries a single-use CSRF token (a replayed
form is refused, `web.form_tokens`); a form with mistakes comes back with its
values and each mistake beside its field (`web.console_forms`); a done action
redirects (303) with a fixed notice, so reloading the page sends nothing again.
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
from identity.web import csrf, form_tokens, return_to
from identity.web.account import _account
from identity.web.console_forms import FormState, state_of
from identity.web.forms import FormRejected, checked, rejected_page
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


def page(
    request: Request, settings: Settings, name: str, *, status_code: int = 200, **context: Any
) -> Response:
    """A console page; its forms carry one single-use token (any one of them uses it)."""
    token, new_cookie = csrf.issue_once(request, settings.secret_key)
    response = render(request, name, status_code=status_code, csrf_token=token, **context)
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


def to_login(request: Request | None = None) -> Response:
    """To the sign-in page, which brings the person back to this page (GET) afterwards,
    or to the console (a form sent after the session ended is not sent again)."""
    back = "/console"
    if request is not None and request.method == "GET":
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(return_to.login_url(back), status_code=303)


@router.get("")
async def home(request: Request, settings: SettingsDep, store: StoreDep) -> Response:
    console = await current_console(request, store, settings)
    if console is None:
        return to_login(request)
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
        return to_login(request)
    return await org_page(request, settings, store, console, org_id, notice=NOTICES.get(done))


async def org_page(
    request: Request,
    settings: Settings,
    store: Any,
    console: Console,
    org_id: str,
    *,
    notice: str | None = None,
    state: FormState | None = None,
) -> Response:
    """The organization's page; with `state`, a form sent back with its mistakes (422)."""
    try:
        context = await _org_context(store.session, console, org_id)
    except Problem:
        return not_found_page(request)
    return page(
        request,
        settings,
        "console_org.html",
        status_code=422 if state else 200,
        title=("Correct the form: " if state else "") + context["org"].name,
        notice=notice,
        state=state,
        **context,
    )


@router.get("/orgs/{org_id}/access-review.csv")
async def access_review_csv(
    org_id: str, request: Request, settings: SettingsDep, store: StoreDep
) -> Response:
    """Who has access to which TINs, with role, last sign-in and two-step status."""
    console = await current_console(request, store, settings)
    if console is None:
        return to_login(request)
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
# Shows the page of a form again, with the form's values and mistakes.
Again = Callable[[Console, FormState], Awaitable[Response]]


@dataclass
class Sent:
    """A console form that passed the gate: who sent it, as whom, and its fields."""

    console: Console
    actor: service.Actor
    fields: dict[str, list[Any]]


@dataclass
class Refused:
    """A console form that breaks the input rule (`web.forms.checked`): not acted on,
    shown again with the field named (or the input rule's page, for a button form)."""

    console: Console
    rejected: FormRejected
    values: dict[str, list[Any]]

    async def response(self, request: Request, form: str, again: Again | None) -> Response:
        if again is None:
            return rejected_page(request, self.rejected)
        errors = {self.rejected.field: self.rejected.message}
        return await again(self.console, FormState(form, self.values, errors))


async def admit(
    request: Request, settings: Settings, store: Any, org_id: str | None = None
) -> Sent | Refused | Response:
    """Signed in, the form's single-use token genuine and not used before (its use
    recorded, first in the action's transaction); else the page that says why."""
    console = await current_console(request, store, settings)
    if console is None:
        return to_login(request)
    form = await request.form()
    fields: dict[str, list[Any]] = {k: form.getlist(k) for k in form}
    token = one(fields, "csrf_token")
    if not csrf.once_valid(request, settings.secret_key, token):
        return error_page(request, settings, 400, EXPIRED_FORM, org_id)
    try:
        checked(form)
    except FormRejected as rejected:  # nothing done yet: the form again, the field named
        texts = {k: [v for v in vs if isinstance(v, str)] for k, vs in fields.items()}
        return Refused(console, rejected, texts)
    actor = service.Actor(console.admin, request_id(request), source_address(request))
    # Signing in touched the SSO session's last-seen time: commit that on its own, so
    # the action's transaction holds no lock on it (administrators acting on each
    # other at once would otherwise deadlock on each other's sessions).
    await store.session.commit()
    if not await form_tokens.use(store.session, console.user.id, token):
        return error_page(request, settings, 409, form_tokens.REPLAYED, org_id)
    return Sent(console, actor, fields)


async def perform(
    request: Request,
    settings: Settings,
    store: Any,
    org_id: str,
    action: Action,
    back: str | None = None,
    *,
    form: str = "",
    again: Again | None = None,
) -> Response:
    """The common shape of every console action: session, single-use CSRF token, the one
    authorization rule, the service call and its audit event in one commit, then a 303
    with a notice. A refusal of the form `form` shows its page again (`again`)."""
    sent = await admit(request, settings, store, org_id)
    if isinstance(sent, Refused):
        return await sent.response(request, form, again)
    if not isinstance(sent, Sent):
        return sent
    try:
        notice = await action(store.session, sent.actor, sent.fields)
    except Problem as problem:
        await store.session.rollback()
        if problem.status == 404:
            return not_found_page(request)
        if again is not None and problem.status == 422:
            return await again(sent.console, state_of(form, sent.fields, problem))
        return error_page(request, settings, problem.status, problem.detail, org_id)
    await store.session.commit()
    return RedirectResponse(f"{back or f'/console/orgs/{org_id}'}?done={notice}", status_code=303)


def again_on_org(request: Request, settings: Settings, store: Any, org_id: str) -> Again:
    async def show(console: Console, state: FormState) -> Response:
        return await org_page(request, settings, store, console, org_id, state=state)

    return show


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
