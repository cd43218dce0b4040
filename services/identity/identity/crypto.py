"""Sealing secrets at rest: AES-256-GCM under keys derived (HKDF-SHA256) from the
settings' key-encryption key, one derived key per purpose, with associated data
binding each ciphertext to its row."""

from __future__ import annotations

import base64
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from identity.settings import Settings


def _aead(settings: Settings, purpose: str) -> AESGCM:
    derived = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"tinpass-" + purpose.encode(),
        info=b"aes-256-gcm",
    ).derive(settings.key_encryption_key.encode())
    return AESGCM(derived)


def seal(settings: Settings, purpose: str, plaintext: bytes, associated: str) -> str:
    nonce = os.urandom(12)
    return base64.b64encode(
        nonce + _aead(settings, purpose).encrypt(nonce, plaintext, associated.encode())
    ).decode()


def unseal(settings: Settings, purpose: str, blob: str, associated: str) -> bytes:
    raw = base64.b64decode(blob)
    return _aead(settings, purpose).decrypt(raw[:12], raw[12:], associated.encode())
