"""Multi-factor authentication: TOTP (RFC 6238, pyotp) and single-use recovery codes.

TOTP secrets are sealed at rest (`identity.crypto`). A new secret is held as
pending (`users.totp_pending_secret_encrypted`) and replaces the confirmed one only
once a code from the new secret is confirmed; until then sign-in keeps asking for
the old factor. A code is accepted once: the time step it matched is recorded with a
conditional UPDATE (`totp_last_step < step`), so of parallel requests carrying the
same code exactly one wins. Ten recovery codes are shown once and stored as SHA-256
digests (they are random, so a fast digest suffices); each works once (also a
conditional UPDATE); regenerating replaces them all.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import time
from datetime import UTC, datetime, timedelta

import pyotp
import segno
from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from identity.crypto import seal, unseal
from identity.models import Membership, Organization, RecoveryCode, SsoSession, User
from identity.security import token_digest
from identity.settings import Settings

ISSUER_NAME = "TINpass"
STEP = 30
RECOVERY_CODES = 10
ACR_MFA = "urn:tinpass:acr:mfa"
ACR_PASSWORD = "urn:tinpass:acr:pwd"
SVG_NAMESPACE = "http://www.w3.org/2000/svg"


def start_enrollment(settings: Settings, user: User) -> str:
    """Hold a new secret as pending (the confirmed one, if any, stays in force);
    returns it (base32) for display. Only ever called from a POST."""
    secret = pyotp.random_base32()
    user.totp_pending_secret_encrypted = seal(settings, "totp-pending", secret.encode(), user.id)
    return secret


def secret_of(settings: Settings, user: User) -> str | None:
    """The confirmed secret, the one sign-in checks."""
    if not user.totp_secret_encrypted:
        return None
    return unseal(settings, "totp", user.totp_secret_encrypted, user.id).decode()


def pending_secret_of(settings: Settings, user: User) -> str | None:
    if not user.totp_pending_secret_encrypted:
        return None
    return unseal(settings, "totp-pending", user.totp_pending_secret_encrypted, user.id).decode()


def provisioning_uri(secret: str, user: User) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER_NAME)


def qr_data_uri(uri: str) -> str:
    """The otpauth URI as an SVG QR code, rendered on the server (no script).

    The SVG names its namespace (`xmlns`): an SVG image without it is not an SVG
    document to the browser, which then shows nothing (natural width 0)."""
    qr = segno.make(uri, error="m")
    svg = qr.svg_inline(scale=5, dark="#000", light="#fff", svgclass=None, lineclass=None)
    svg = svg.replace("<svg ", f'<svg xmlns="{SVG_NAMESPACE}" ', 1)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _matching_step(secret: str | None, code: str, after: int | None) -> int | None:
    """The time step (one step of clock drift either way) whose code is `code`, later
    than `after`; None when there is none."""
    digits = code.strip().replace(" ", "")
    if secret is None or len(digits) != 6 or not (digits.isascii() and digits.isdigit()):
        return None
    totp, now_step = pyotp.TOTP(secret), int(time.time()) // STEP
    found = None
    for step in (now_step - 1, now_step, now_step + 1):
        if hmac.compare_digest(totp.at(step * STEP), digits) and step > (after or -1):
            found = step
    return found


async def _claim_step(session: AsyncSession, user: User, step: int) -> bool:
    """Record `step` as used unless it (or a later one) already was: exactly one of
    concurrent claims of the same step updates the row."""
    result = await session.execute(
        update(User)
        .where(
            User.id == user.id,
            or_(User.totp_last_step.is_(None), User.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return False
    set_committed_value(user, "totp_last_step", step)
    return True


async def verify_code(session: AsyncSession, settings: Settings, user: User, code: str) -> bool:
    """A current code of the confirmed secret, not used before (its step is claimed)."""
    if not user.mfa_enabled:
        return False
    step = _matching_step(secret_of(settings, user), code, user.totp_last_step)
    return step is not None and await _claim_step(session, user, step)


async def verify_factor(session: AsyncSession, settings: Settings, user: User, code: str) -> bool:
    """The current second factor: a TOTP code or an unused recovery code."""
    return await verify_code(session, settings, user, code) or await use_recovery_code(
        session, user, code
    )


def confirm_enrollment(settings: Settings, user: User, code: str) -> bool:
    """A code from the pending secret makes it the confirmed one (the old one ends)."""
    pending = pending_secret_of(settings, user)
    step = _matching_step(pending, code, None)
    if pending is None or step is None:
        return False
    user.totp_secret_encrypted = seal(settings, "totp", pending.encode(), user.id)
    user.totp_pending_secret_encrypted = None
    user.totp_confirmed_at = datetime.now(UTC)
    user.totp_last_step = step
    return True


async def remove(session: AsyncSession, user: User) -> None:
    """Turn two-step sign-in off: secrets, pending secret and recovery codes go."""
    user.totp_secret_encrypted = user.totp_pending_secret_encrypted = None
    user.totp_confirmed_at = None
    user.totp_last_step = None
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


def recently_authenticated(settings: Settings, sso: SsoSession, user: User) -> bool:
    """The session proved the account's current factors within `mfa_reauth_max_age`:
    password and code when two-step sign-in is on, the password otherwise."""
    fresh = sso.auth_time >= datetime.now(UTC) - timedelta(seconds=settings.mfa_reauth_max_age)
    return fresh and (sso.acr == ACR_MFA or not user.mfa_enabled)


async def organization_requires(session: AsyncSession, user: User) -> bool:
    required = await session.scalar(
        select(Organization.id)
        .join(Membership, Membership.organization_id == Organization.id)
        .where(Membership.user_id == user.id, Organization.mfa_required.is_(True))
        .limit(1)
    )
    return required is not None


async def requiring_organizations(session: AsyncSession, user: User) -> list[str]:
    """The names of the user's organizations that require two-step sign-in (none: it is
    optional for them)."""
    names = await session.scalars(
        select(Organization.name)
        .join(Membership, Membership.organization_id == Organization.id)
        .where(Membership.user_id == user.id, Organization.mfa_required.is_(True))
        .order_by(Organization.name)
    )
    return list(names)


async def new_recovery_codes(session: AsyncSession, user: User) -> list[str]:
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [
        f"{secrets.token_hex(5)[:5]}-{secrets.token_hex(5)[:5]}" for _ in range(RECOVERY_CODES)
    ]
    session.add_all(RecoveryCode(user_id=user.id, code_digest=token_digest(c)) for c in codes)
    await session.flush()
    return codes


async def use_recovery_code(session: AsyncSession, user: User, code: str) -> bool:
    digest = token_digest(code.strip().lower())
    row_id = await session.scalar(
        select(RecoveryCode.id).where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_digest == digest,
            RecoveryCode.used_at.is_(None),
        )
    )
    if row_id is None:
        return False
    result = await session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.id == row_id, RecoveryCode.used_at.is_(None))
        .values(used_at=datetime.now(UTC))
    )
    return getattr(result, "rowcount", 0) == 1


async def remaining_recovery_codes(session: AsyncSession, user: User) -> int:
    rows = await session.scalars(
        select(RecoveryCode.id).where(
            RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
        )
    )
    return len(list(rows))
