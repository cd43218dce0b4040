"""Self-service registration of an organization and its first Administrator.

The applicant gives the organization's legal name, address, primary TIN and NPIs,
their own name, e-mail, username and password. The organization starts
`pending_verification` and the applicant `pending_email` until the link mailed to
them is followed. An e-mail address that already has an account gets a notice
instead of a second account, and the page says the same either way (no
enumeration by e-mail). The primary TIN comes with its evidence (the legal name
registered with the IRS and the applicant's attestation) and waits, like every TIN,
for an operator to verify it (`identity.tin_verification`); verifying the
organization does not verify its TIN. Nothing of a pending organization reaches a
relying party: `Store.load_subject` issues tokens only for active organizations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from identity import accounts, action_tokens, admin_ops, audit, plan_roles, tin_verification
from identity.models import Membership, Organization, User
from identity.password_policy import PolicyViolation
from identity.security import format_tin, normalize_tin
from identity.settings import Settings

CONFIRM_PURPOSE = "confirm_registration"
CONFIRM_TTL = 24 * 3600
FIELDS = (
    "org_name",
    "street",
    "city",
    "state",
    "postal_code",
    "phone",
    "tin",
    "tin_legal_name",
    "attest",
    "npis",
    "given_name",
    "family_name",
    "email",
    "username",
    "password",
    "plan_role_billing",
    "plan_role_clinical",
)
# The applicant's own plan roles, ticked on the form: a plan's portal needs one.
PLAN_ROLE_FIELDS = {"plan_role_billing": "billing", "plan_role_clinical": "clinical"}
STATE = re.compile(r"[A-Za-z]{2}")
ZIP = re.compile(r"[0-9]{5}(-?[0-9]{4})?")
NPI = re.compile(r"[0-9]{10}")  # ASCII digits only (str.isdigit() takes any script's)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class RegistrationInvalid(ValueError):
    """Every field at fault, each with a message a person can act on."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(m for ms in errors.values() for m in ms))
        self.errors = errors


@dataclass
class Application:
    values: dict[str, str]
    errors: dict[str, list[str]] = field(default_factory=dict)

    def get(self, name: str) -> str:
        return self.values.get(name, "").strip()

    def fail(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)


@dataclass(frozen=True)
class Outcome:
    """`link` is the confirmation link to mail; `notice_to` an existing account's address."""

    email: str
    link: str | None = None
    notice_to: str | None = None
    organization_id: str | None = None


def valid_npi(npi: str) -> bool:
    """A National Provider Identifier: ten digits, the last a Luhn check digit over
    the prefix 80840 and the first nine (CMS's NPI check digit rule)."""
    if not NPI.fullmatch(npi):
        return False
    total = 24  # the constant for the 80840 prefix
    for index, char in enumerate(reversed(npi[:9])):
        digit = int(char)
        if index % 2 == 0:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return (10 - total % 10) % 10 == int(npi[9])


def parse_npis(text: str) -> tuple[list[str], list[str]]:
    """(valid NPIs, one message per invalid one), from a comma or space separated list."""
    found = [part for part in re.split(r"[\s,;]+", text.strip()) if part]
    bad = [f"{npi} is not a valid NPI (ten digits with a check digit)." for npi in found]
    good = [npi for npi in found if valid_npi(npi)]
    return good, [m for npi, m in zip(found, bad, strict=True) if not valid_npi(npi)]


def _check_fields(app: Application) -> None:
    if not app.get("org_name"):
        app.fail("org_name", "Enter the organization's legal name.")
    if not app.get("street") or not app.get("city"):
        app.fail("street", "Enter the street address and city.")
    if not STATE.fullmatch(app.get("state")):
        app.fail("state", "Enter the two-letter state code, like WA.")
    if not ZIP.fullmatch(app.get("postal_code")):
        app.fail("postal_code", "Enter a ZIP code of five or nine digits.")
    if len(re.sub(r"\D", "", app.get("phone"))) < 10:
        app.fail("phone", "Enter a phone number with its area code.")
    try:
        normalize_tin(app.get("tin"))
    except ValueError:
        app.fail("tin", "Enter the Tax ID as nine digits, like 12-3456789.")
    if not app.get("tin_legal_name"):
        app.fail("tin_legal_name", "Enter the legal name registered with the IRS for this Tax ID.")
    elif len(app.get("tin_legal_name")) > 200:
        app.fail("tin_legal_name", "The legal name is at most 200 characters.")
    if not app.get("attest"):
        app.fail("attest", "Attest that your organization owns this Tax ID.")
    npis, bad = parse_npis(app.get("npis"))
    for message in bad:
        app.fail("npis", message)
    if not npis and not bad:
        app.fail("npis", "Enter at least one NPI of the organization.")
    if not app.get("given_name") or not app.get("family_name"):
        app.fail("given_name", "Enter your first and last name.")
    if not _EMAIL.match(app.get("email")):
        app.fail("email", "Enter your e-mail address, like name@example.org.")


async def register(session: AsyncSession, settings: Settings, values: dict[str, str]) -> Outcome:
    """Create the pending organization and its first administrator, in the caller's
    transaction. Raises RegistrationInvalid with every field's errors."""
    app = Application({k: str(values.get(k, "")) for k in FIELDS})
    _check_fields(app)
    try:
        await accounts.check_new_password(
            session, settings, None, app.get("username"), app.values.get("password", "")
        )
    except PolicyViolation as violation:
        for v in violation.violations:
            app.fail("username" if v.code.startswith("username") else "password", v.message)
    if app.errors:
        raise RegistrationInvalid(app.errors)
    email = app.get("email")
    if await session.scalar(select(User.id).where(User.email_normalized == email.lower())):
        return Outcome(email=email, notice_to=email)
    try:
        user = await admin_ops.create_user(
            session,
            settings,
            app.get("username"),
            email,
            app.values.get("password", ""),
            app.get("given_name"),
            app.get("family_name"),
        )
    except PolicyViolation as violation:
        for v in violation.violations:
            app.fail("username" if v.code.startswith("username") else "password", v.message)
        raise RegistrationInvalid(app.errors) from violation
    except ValueError as error:
        app.fail("username", str(error).replace("the username", "The username"))
        raise RegistrationInvalid(app.errors) from error
    user.status = "pending_email"
    org = await _organization(session, app, user)
    token = await action_tokens.issue(session, CONFIRM_PURPOSE, user.id, CONFIRM_TTL)
    link = f"{settings.issuer.rstrip('/')}/register/confirm?token={token}"
    return Outcome(email=email, link=link, organization_id=org.id)


async def _organization(session: AsyncSession, app: Application, user: User) -> Organization:
    npis, _ = parse_npis(app.get("npis"))
    org = Organization(
        name=app.get("org_name")[:200],
        street=app.get("street")[:200],
        city=app.get("city")[:100],
        state=app.get("state").upper(),
        postal_code=app.get("postal_code"),
        phone=app.get("phone")[:32],
        npis=npis,
        status="pending_verification",
    )
    session.add(org)
    await session.flush()
    digits = normalize_tin(app.get("tin"))
    evidence = tin_verification.Evidence(app.get("tin_legal_name"), bool(app.get("attest")))
    tin = await tin_verification.request(session, org, digits, "Primary", evidence, user.id)
    member = Membership(user_id=user.id, organization_id=org.id, role="administrator")
    member.tax_ids = []  # granted to the applicant once an operator verifies it
    member.plan_roles = plan_roles.checked(
        role for name, role in PLAN_ROLE_FIELDS.items() if app.get(name)
    )
    session.add(member)
    await session.flush()
    await audit.record(
        session,
        "organization.registered",
        actor_type="user",
        actor_id=user.id,
        organization_id=org.id,
        target_type="organization",
        target_id=org.id,
        details={
            "after": profile_of(org)
            | {"status": org.status, "tin": format_tin(digits), "tin_status": tin.status}
            | {"administrator_plan_roles": member.plan_roles}
        },
    )
    await audit.record(
        session,
        "tax_id.verification_requested",
        actor_type="user",
        actor_id=user.id,
        organization_id=org.id,
        target_type="tax_id",
        target_id=digits,
        details={
            "after": {
                "tin": format_tin(digits),
                "status": tin.status,
                "legal_name": tin.legal_name,
                "attestation": tin.attestation,
            }
        },
    )
    return org


def profile_of(org: Organization) -> dict[str, Any]:
    """The organization's profile as the audit trail records it."""
    return {
        "name": org.name,
        "street": org.street,
        "city": org.city,
        "state": org.state,
        "postal_code": org.postal_code,
        "phone": org.phone,
        "npis": list(org.npis),
    }


async def confirm_email(session: AsyncSession, token: str | None) -> User | None:
    """Follow the confirmation link once: the applicant's account becomes active."""
    row = await action_tokens.use(session, CONFIRM_PURPOSE, token)
    user = await session.get(User, row.user_id) if row else None
    if user is None or user.status != "pending_email":
        return None
    user.status = "active"
    await audit.record(
        session,
        "registration.email_confirmed",
        actor_type="user",
        actor_id=user.id,
        target_type="user",
        target_id=user.id,
    )
    return user
