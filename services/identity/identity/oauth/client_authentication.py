"""RFC 6749 §2.3 client authentication failures, as audit details.

A failed client authentication (no such client, a wrong secret, a bad or
replayed `private_key_jwt` assertion) is audited as
`client.authentication_failed` with the client id the request claimed and a
short reason. Neither the secret nor the assertion is ever recorded. The
claimed client id is the caller's text, so it is stripped of control
characters and cut to a bounded length; the endpoints that authenticate
clients are rate limited per address, which bounds how fast events are written.
"""

from __future__ import annotations

import json
from typing import Any

from authlib.common.encoding import urlsafe_b64decode
from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc6749.util import extract_basic_authorization

EVENT = "client.authentication_failed"
CLIENT_ID_LENGTH = 100
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def claimed_client_id(request: Any) -> str | None:
    """The client id the request claims: Basic user, `client_id`, or the assertion's `sub`."""
    basic_id, _ = extract_basic_authorization(request.headers)
    claimed = basic_id or request.payload.data.get("client_id")
    if not claimed and request.payload.data.get("client_assertion"):
        claimed = _assertion_subject(request.payload.data["client_assertion"])
    if not claimed:
        return None
    printable = "".join(c for c in str(claimed) if c.isprintable())
    return printable[:CLIENT_ID_LENGTH] or None


def _assertion_subject(assertion: str) -> str | None:
    """The unverified `sub` of an assertion, only to name who it claims to be."""
    try:
        payload = assertion.split(".")[1]
        claims = json.loads(urlsafe_b64decode(payload.encode() + b"=" * (-len(payload) % 4)))
    except (IndexError, ValueError, TypeError):
        return None
    sub = claims.get("sub") if isinstance(claims, dict) else None
    return sub if isinstance(sub, str) else None


def failure_reason(error: InvalidClientError, request: Any) -> str:
    """A short, fixed reason for the audit trail (never the credential)."""
    description = error.description or ""
    data = request.payload.data
    if "does not exist" in description:
        return "unknown_client"
    if "used before" in description:
        return "assertion_replayed"
    if data.get("client_assertion") or data.get("client_assertion_type") == ASSERTION_TYPE:
        return "invalid_assertion"
    _, basic_secret = extract_basic_authorization(request.headers)
    if basic_secret or data.get("client_secret"):
        return "invalid_secret"
    return "no_credentials"


def audit_details(error: InvalidClientError, request: Any, endpoint: str) -> dict[str, Any]:
    return {
        "outcome": "failure",
        "client_id": claimed_client_id(request),
        "reason": failure_reason(error, request),
        "endpoint": endpoint,
    }
