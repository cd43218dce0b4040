"""`Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header), as every TINpass API
that accepts it reads it: the header names, the rule a key follows, the digest that
tells a retry (same method, path and JSON body) from a different request, and the
problems a reused or busy key is answered with.

A retry with the same key and request replays the first answer (with
`Idempotency-Replayed: true`); the same key on a different request is a 422
`idempotency-key-reused`; a key whose first request is still being processed is a
409 `idempotency-key-in-use`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from policy.problems import Problem

KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotency-Replayed"
MAX_KEY_LENGTH = 200


def request_digest(body: bytes, path: str) -> str:
    """SHA-256 of the path and the JSON body, canonical (key order and spacing do not
    matter); a body that is not JSON counts as its text."""
    try:
        parsed: Any = json.loads(body or b"null")
    except ValueError:
        parsed = body.decode(errors="replace")
    canonical = json.dumps({"path": path, "body": parsed}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def key_problem(key: str) -> Problem | None:
    """Why `key` is not an idempotency key (1 to 200 printable ASCII characters), or None."""
    if 0 < len(key) <= MAX_KEY_LENGTH and all(" " <= c <= "~" for c in key):
        return None
    return Problem(
        400,
        "Idempotency-Key not valid",
        f"The {KEY_HEADER} header must be 1 to {MAX_KEY_LENGTH} printable ASCII characters; "
        "send a new unique value, such as a UUID, for each new request.",
        "idempotency-key-invalid",
    )


def reused() -> Problem:
    return Problem(
        422,
        "Idempotency key reused",
        f"This {KEY_HEADER} was used for a different request; use a new key for a new request.",
        "idempotency-key-reused",
    )


def in_use() -> Problem:
    return Problem(
        409,
        "Request in progress",
        f"Another request with this {KEY_HEADER} is being processed; retry shortly.",
        "idempotency-key-in-use",
    )
