"""The registration pages: an organization and its first Administrator apply;
the applicant confirms their e-mail address by a link; operators decide.

The page after a valid application says the same whether or not the e-mail
address already had an account (that account's owner gets a notice instead).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from identity import action_tokens, registration
from identity.deps import MailerDep, SessionDep, SettingsDep, ThrottleDep, source_address
from identity.settings import Settings
from identity.web import after_post, csrf
from identity.web.forms import Field, form_page, posted
from identity.web.pages import render

router = APIRouter()
CHECK_MAIL = (
    "We have sent a message to {email}. Follow the link in it within 24 hours to confirm "
    "your address. TINpass operators then verify your organization; you will hear from "
    "us by e-mail. Until then your organization's users cannot sign in to health plans."
)
LABELS = {
    "org_name": ("Organization's legal name", "text", "organization"),
    "street": ("Street address", "text", "street-address"),
    "city": ("City", "text", "address-level2"),
    "state": ("State (two letters)", "text", "address-level1"),
    "postal_code": ("ZIP code", "text", "postal-code"),
    "phone": ("Phone", "tel", "tel"),
    "tin": ("Primary Tax ID (TIN), like 12-3456789", "text", "off"),
    "tin_legal_name": ("Legal name registered with the IRS for this Tax ID", "text", "off"),
    "attest": (
        "I attest that my organization owns this Tax ID, that the legal name above is the "
        "one registered with the IRS for it, and that I am authorized to act for it",
        "checkbox",
        "off",
    ),
    "npis": ("NPI(s), separated by commas", "text", "off"),
    "given_name": ("Your first name", "text", "given-name"),
    "family_name": ("Your last name", "text", "family-name"),
    "email": ("Your e-mail address", "email", "email"),
    "username": ("Choose a username", "text", "username"),
    "password": ("Choose a password", "password", "new-password"),
    # The first administrator's own plan roles (identity.registration.PLAN_ROLE_FIELDS):
    # without one, health plans' portals show her nothing.
    "plan_role_billing": (
        "Give me the plan role billing: I check eligibility, claims and payment amounts",
        "checkbox",
        "off",
    ),
    "plan_role_clinical": (
        "Give me the plan role clinical: I check eligibility and claim status, without amounts",
        "checkbox",
        "off",
    ),
}


def _form(
    request: Request,
    settings: Settings,
    values: dict[str, str] | None = None,
    errors: dict[str, list[str]] | None = None,
    status_code: int = 200,
    error: str | None = None,
) -> Response:
    values, errors = values or {}, errors or {}
    fields = [
        Field(
            name,
            label,
            kind,
            auto,
            value="" if kind == "password" else values.get(name, ""),
            errors=errors.get(name, []),
        )
        for name, (label, kind, auto) in LABELS.items()
    ]
    return form_page(
        request,
        settings,
        title="Register your organization",
        action="/register",
        submit="Register",
        intro=(
            "Register your organization and yourself as its first Administrator. "
            "TINpass operators verify every organization before its people can sign in "
            "to health plans. To use health plans' portals yourself, also give yourself a "
            "plan role at the end (you can change it later in Administration)."
        ),
        fields=fields,
        status_code=status_code,
        error=error,
    )


@router.get("/register")
async def register_form(request: Request, settings: SettingsDep) -> Response:
    return _form(request, settings)


@router.post("/register")
async def register(
    request: Request,
    settings: SettingsDep,
    session: SessionDep,
    mailer: MailerDep,
    throttle: ThrottleDep,
) -> Response:
    values = await posted(request)
    if not csrf.valid(request, settings.secret_key, values.get("csrf_token")):
        return _form(
            request,
            settings,
            values,
            status_code=400,
            error="This form expired. Check your details and submit it again.",
        )
    wait = await throttle.retry_after("register", source_address(request) or "unknown")
    if wait is not None:
        response = _form(
            request,
            settings,
            values,
            status_code=429,
            error=f"Too many attempts from your network. Wait {wait} seconds.",
        )
        response.headers["Retry-After"] = str(wait)
        return response
    try:
        outcome = await registration.register(session, settings, values)
    except registration.RegistrationInvalid as invalid:
        await session.rollback()
        return _form(
            request,
            settings,
            values,
            invalid.errors,
            400,
            error="Some details need your attention; see the messages below.",
        )
    await session.commit()
    if outcome.link:
        await mailer.send(
            outcome.email,
            "Confirm your e-mail address for TINpass",
            "You registered your organization on TINpass.\n"
            f"Confirm your e-mail address within 24 hours (the link works once):\n"
            f"{outcome.link}\n",
        )
    elif outcome.notice_to:
        await mailer.send(
            outcome.notice_to,
            "Someone tried to register with your e-mail address",
            "Someone tried to register an organization on TINpass with this e-mail address, "
            "which already has an account. If it was you, sign in with your account instead "
            "(use 'Forgot username' if needed). If not, you can ignore this message.\n",
        )
    return after_post.redirect(
        "/register/sent",
        {"email": outcome.email},
        secret_key=settings.secret_key,
        secure=settings.secure_cookies,
    )


@router.get("/register/sent")
async def registration_sent(request: Request, settings: SettingsDep) -> Response:
    """Where a registration leads (post/redirect/get): reloading it sends nothing again."""
    done = after_post.read(request, settings.secret_key)
    email = str(done["email"]) if done else "the address you gave"
    return render(
        request, "message.html", title="Check your e-mail", message=CHECK_MAIL.format(email=email)
    )


def _link_not_valid(request: Request) -> Response:
    return render(
        request,
        "message.html",
        status_code=400,
        title="Link not valid",
        error=True,
        message="This link has expired or was already used. Register again, "
        "or sign in if you already confirmed your address.",
    )


@router.get("/register/confirm")
async def confirm_form(
    request: Request, settings: SettingsDep, session: SessionDep, token: str = ""
) -> Response:
    """Opening the link only asks; confirming is the POST (a GET changes nothing)."""
    if await action_tokens.peek(session, registration.CONFIRM_PURPOSE, token) is None:
        return _link_not_valid(request)
    return form_page(
        request,
        settings,
        title="Confirm your e-mail address",
        action="/register/confirm",
        submit="Confirm my e-mail address",
        intro="Confirm this address to finish your registration with TINpass.",
        fields=[],
        hidden={"token": token},
    )


@router.post("/register/confirm")
async def confirm(request: Request, settings: SettingsDep, session: SessionDep) -> Response:
    values = await posted(request)
    if not csrf.valid(request, settings.secret_key, values.get("csrf_token")):
        return _link_not_valid(request)
    user = await registration.confirm_email(session, values.get("token", ""))
    if user is None:
        await session.rollback()
        return _link_not_valid(request)
    await session.commit()
    return render(
        request,
        "message.html",
        title="Your e-mail address is confirmed",
        message="Thank you. TINpass operators will now verify your organization; we will "
        "tell you by e-mail. You can sign in to follow its status.",
        link="/console",
        link_text="Open the administration console",
    )
