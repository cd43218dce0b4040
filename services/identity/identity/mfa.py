"""Multi-factor authentication: TOTP (RFC 6238, pyotp) and single-use recovery codes.

TOTP secrets are sealed at rest (`identity.crypto`); a code is accepted once: the
time step it matched is remembered and no code of that step or an earlier one is
accepted again. Ten recovery codes are shown once and stored as SHA-256 digests
(they are random, so a fast digest suffices); each works once; regenerating
replaces them all.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import time
from datetime import UTC, datetime

import pyotp
import segno
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from identity.crypto import seal, unseal
from identity.models import RecoveryCode, User
from identity.security import token_digest
from identity.settings import Settings

ISSUER_NAME = "TINpass"
STEP = 30
RECOVERY_CODES = 10
ACR_MFA = "urn:tinpass:acr:mfa"
ACR_PASSWORD = "urn:tinpass:acr:pwd"


def start_enrollment(settings: Settings, user: User) -> str:
    """Give the user a new, unconfirmed secret; returns it (base32) for display."""
    secret = pyotp.random_base32()
    user.totp_secret_encrypted = seal(settings, "totp", secret.encode(), user.id)
    user.totp_confirmed_at = None
    user.totp_last_step = None
    return secret


def secret_of(settings: Settings, user: User) -> str | None:
    if not user.totp_secret_encrypted:
        return None
    return unseal(settings, "totp", user.totp_secret_encrypted, user.id).decode()


def provisioning_uri(secret: str, user: User) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER_NAME)


def qr_data_uri(uri: str) -> str:
    """The otpauth URI as an SVG QR code, rendered on the server (no script)."""
    svg = segno.make(uri, error="m").svg_inline(scale=5, dark="#000", light="#fff")
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def verify_code(settings: Settings, user: User, code: str) -> bool:
    """A current TOTP code not used before (one step of clock drift either way)."""
    secret = secret_of(settings, user)
    digits = code.strip().replace(" ", "")
    if secret is None or not digits.isdigit() or len(digits) != 6:
        return False
    totp, now_step = pyotp.TOTP(secret), int(time.time()) // STEP
    for step in (now_step - 1, now_step, now_step + 1):
        if hmac.compare_digest(totp.at(step * STEP), digits) and step > (user.totp_last_step or -1):
            user.totp_last_step = step
            return True
    return False


def confirm_enrollment(settings: Settings, user: User, code: str) -> bool:
    if not verify_code(settings, user, code):
        return False
    user.totp_confirmed_at = datetime.now(UTC)
    return True


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
