"""An integrator's public keys for private_key_jwt (RFC 7523), checked before they
are registered: public RSA or EC signing keys only, in canonical form.

Refused, each with a 422 problem (type `invalid-jwks`) naming the key at fault:
private key material, symmetric (HMAC) keys, `alg: none`, algorithms the token
endpoint does not accept, RSA keys under 2048 bits, curves other than P-256 and
P-384, keys without a `kid` or sharing one.
"""

from __future__ import annotations

import base64
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

from identity.keys import ASSERTION_ALGORITHMS, PRIVATE_MEMBERS
from policy.problems import Problem

MAX_KEYS = 10
MIN_RSA_BITS = 2048
CURVES = {"ES256": "P-256", "ES384": "P-384"}


def _refuse(detail: str, index: int | None = None) -> Problem:
    field = "keys" if index is None else f"keys[{index}]"
    return Problem(422, "These keys cannot be registered", detail, "invalid-jwks", field=field)


def public_jwks(document: dict[str, Any]) -> dict[str, Any]:
    """A JWKS of public RSA/EC signing keys for private_key_jwt, in canonical form.

    Refuses private key material, symmetric (HMAC) keys, `alg: none`, unknown key
    types or algorithms, weak RSA keys, unnamed or duplicate `kid`s."""
    keys = document.get("keys")
    if not isinstance(keys, list) or not keys:
        raise _refuse('A JWKS is an object with a non-empty "keys" list of public keys.')
    if len(keys) > MAX_KEYS:
        raise _refuse(f"Register at most {MAX_KEYS} keys; remove keys no longer in use.")
    cleaned = [_public_key(index, key) for index, key in enumerate(keys)]
    kids = [k["kid"] for k in cleaned]
    if len(set(kids)) != len(kids):
        raise _refuse("Each key needs its own kid; two keys share one.")
    return {"keys": cleaned}


def _public_key(index: int, key: Any) -> dict[str, Any]:
    number = f"Key {index + 1}"
    if not isinstance(key, dict):
        raise _refuse(f"{number} is not a JSON Web Key object.", index)
    alg, kty = key.get("alg"), key.get("kty")
    if alg is not None and (str(alg).lower() == "none" or str(alg).upper().startswith("HS")):
        raise _refuse(
            f"{number} has alg {alg}: assertions must be signed with one of "
            f"{', '.join(ASSERTION_ALGORITHMS)}.",
            index,
        )
    if kty == "oct":
        raise _refuse(
            f"{number} is a symmetric (HMAC) key: private_key_jwt needs an RSA or EC public key.",
            index,
        )
    private = sorted(PRIVATE_MEMBERS & key.keys())
    if private:
        raise _refuse(
            f"{number} contains private key material ({', '.join(private)}). Register only "
            "the public key; the private key stays with the integrator.",
            index,
        )
    kid = key.get("kid")
    if not isinstance(kid, str) or not kid.strip():
        raise _refuse(
            f"{number} needs a kid, so assertions can name the key that signed them.", index
        )
    if key.get("use", "sig") != "sig":
        raise _refuse(f'{number} has use {key.get("use")!r}; signing keys have use "sig".', index)
    public = _imported(number, index, kty, alg, key)
    public.update(kid=kid, **({"alg": alg} if alg else {}), use="sig")
    return public


def _imported(number: str, index: int, kty: Any, alg: Any, key: dict[str, Any]) -> dict[str, Any]:
    if alg is not None and alg not in ASSERTION_ALGORITHMS:
        raise _refuse(
            f"{number} has alg {alg}; use one of {', '.join(ASSERTION_ALGORITHMS)}.", index
        )
    if kty not in ("RSA", "EC") or (alg and str(alg)[:2] != ("RS" if kty == "RSA" else "ES")):
        raise _refuse(f"{number} must be an RSA or EC key matching its alg (kty {kty}).", index)
    _check_strength(number, index, kty, alg, key)
    try:
        imported = RSAKey.import_key(key) if kty == "RSA" else ECKey.import_key(key)
    except (JoseError, ValueError, TypeError, KeyError) as error:
        raise _refuse(f"{number} is not a valid {kty} public key.", index) from error
    data: dict[str, Any] = imported.as_dict(private=False)
    return {k: v for k, v in data.items() if k not in PRIVATE_MEMBERS}


def _check_strength(number: str, index: int, kty: Any, alg: Any, key: dict[str, Any]) -> None:
    """Before importing (joserfc only warns about short RSA keys)."""
    if kty == "RSA":
        try:
            modulus = base64.urlsafe_b64decode(str(key.get("n", "")) + "==")
        except (ValueError, TypeError) as error:
            raise _refuse(f"{number} is not a valid RSA public key.", index) from error
        if int.from_bytes(modulus, "big").bit_length() < MIN_RSA_BITS:
            raise _refuse(f"{number} is an RSA key shorter than {MIN_RSA_BITS} bits.", index)
        return
    allowed = [CURVES[alg]] if alg in CURVES else list(CURVES.values())
    if key.get("crv") not in allowed:
        raise _refuse(f"{number} uses curve {key.get('crv')}; use {' or '.join(allowed)}.", index)
