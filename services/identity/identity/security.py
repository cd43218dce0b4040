"""Secrets and hashing: passwords (argon2id), client secrets, token digests, TINs.

Passwords use argon2id through passlib's CryptContext (OWASP Password Storage
Cheat Sheet); bcrypt hashes from an import verify and are rehashed at the next
login, as are argon2 hashes with outdated parameters. Client secrets are
high-entropy random strings, so a keyed fast hash (HMAC-SHA256 with a pepper)
suffices and authenticating a client never costs a password hash. Codes,
refresh tokens and session cookies are stored as SHA-256 digests.

Password hashes run in a thread pool of their own (argon2-cffi releases the GIL),
at most `hashing_threads` at a time per process: as many as the CPUs by default,
since more hashes at once only share the cores and memory bandwidth while each
waits longer, and none of anyio's shared worker threads is taken from other work.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import re
import secrets
from concurrent.futures import ThreadPoolExecutor

from passlib.context import CryptContext

pwd_context = CryptContext(
    schemes=["argon2", "bcrypt"],
    default="argon2",
    deprecated=["bcrypt"],
    argon2__type="ID",
    argon2__memory_cost=19456,
    argon2__time_cost=2,
    argon2__parallelism=1,
)

_DUMMY_HASH = pwd_context.hash(secrets.token_urlsafe(16))
# ASCII digits only: `\d` and str.isdigit() also accept full-width and Arabic-Indic digits.
_TIN = re.compile(r"[0-9]{2}-?[0-9]{7}")


def hash_password(password: str) -> str:
    hashed: str = pwd_context.hash(password)
    return hashed


def verify_password(password: str, hashed: str | None) -> tuple[bool, str | None]:
    """(ok, new hash when the stored one is outdated). None costs the same as a real check."""
    if hashed is None:
        pwd_context.verify(password, _DUMMY_HASH)
        return False, None
    ok, new_hash = pwd_context.verify_and_update(password, hashed)
    return bool(ok), new_hash


class _Hashing:
    """The process's password-hashing threads (resized by `hashing_threads`)."""

    threads = os.cpu_count() or 1
    pool = ThreadPoolExecutor(threads, thread_name_prefix="password-hash")


def hashing_threads(count: int | None) -> int:
    """Hash at most `count` passwords at a time (None or 0: one per CPU); the count used."""
    count = count or os.cpu_count() or 1
    if count != _Hashing.threads:
        previous = _Hashing.pool
        _Hashing.threads = count
        _Hashing.pool = ThreadPoolExecutor(count, thread_name_prefix="password-hash")
        previous.shutdown(wait=False)  # hashes it has started still finish
    return count


async def verify_password_async(password: str, hashed: str | None) -> tuple[bool, str | None]:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_Hashing.pool, verify_password, password, hashed)


async def hash_password_async(password: str) -> str:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_Hashing.pool, hash_password, password)


def generate_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def client_secret_digest(secret: str, pepper: str) -> str:
    return hmac.new(pepper.encode(), secret.encode(), hashlib.sha256).hexdigest()


def verify_client_secret(secret: str, digest: str | None, pepper: str) -> bool:
    candidate = client_secret_digest(secret, pepper)
    return hmac.compare_digest(candidate, digest or "0" * len(candidate))


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalize_tin(value: str) -> str:
    """A Tax ID as nine digits; accepts `12-3456789` or `123456789`."""
    text = value.strip()
    if not _TIN.fullmatch(text):
        raise ValueError("A Tax ID has exactly nine digits, like 12-3456789.")
    return text.replace("-", "")


def format_tin(tin: str) -> str:
    return f"{tin[:2]}-{tin[2:]}"
