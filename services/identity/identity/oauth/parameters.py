"""Request parameters of every OAuth endpoint under the one input rule (`policy.inputs`).

A parameter sent more than once (RFC 6749 §3.1, §3.2: only RFC 8707's `resource`
may repeat), or with a control character, or longer than TINpass keeps, is refused
before Authlib or the database sees it, with an `invalid_request` error that names
it (RFC 6749 §4.1.2.1, §5.2; `invalid_target` for a `resource`, RFC 8707 §2). At the
authorization endpoint the error goes back to the client's redirect URI only when
the client and that URI are valid (as Authlib does for an unknown response type);
otherwise the browser gets an error page. An error description holds only the
characters RFC 6749 allows.
"""

from __future__ import annotations

import re
from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Error

from identity.models import Client
from identity.oauth.bridge import BridgedRequest
from identity.oauth.rfc8707 import InvalidTargetError
from policy.inputs import InvalidInput, acceptable, column_length, first_invalid, problem

CLIENT_ID_LENGTH = column_length(Client.client_id)
TOKEN_LENGTH = 16_384  # JWTs (assertions, ID token hints) and opaque tokens
LIMITS = {
    "client_id": CLIENT_ID_LENGTH,
    "redirect_uri": 2048,
    "post_logout_redirect_uri": 2048,
    "code_challenge": 128,
    "code_verifier": 128,
    "code": TOKEN_LENGTH,
    "refresh_token": TOKEN_LENGTH,
    "token": TOKEN_LENGTH,
    "id_token_hint": TOKEN_LENGTH,
    "client_assertion": TOKEN_LENGTH,
    "assertion": TOKEN_LENGTH,
}
DEFAULT_LENGTH = 2048
PARAMETER_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
NOT_REDIRECTED = frozenset({"client_id", "redirect_uri"})


def invalid_parameter(request: BridgedRequest) -> InvalidInput | None:
    """A parameter sent more than once (RFC 6749 §3.1, §3.2; `resource` may repeat,
    RFC 8707), else the first parameter (name or value) breaking the input rule."""
    if (repeated := request.payload.repeated) is not None:
        return InvalidInput(repeated, "was sent more than once; send it once")
    pairs = [(k, v) for k, values in request.payload.datalist.items() for v in values]
    for name, _ in pairs:
        if (reason := problem(name, 64)) is not None:
            return InvalidInput("a parameter's name", reason)
    return first_invalid(pairs, LIMITS, DEFAULT_LENGTH)


def description(invalid: InvalidInput) -> str:
    """`The <name> parameter <reason>.` in RFC 6749's error_description characters."""
    name = invalid.field if PARAMETER_NAME.fullmatch(invalid.field) else "a parameter's name"
    subject = name if name.startswith("a ") else f"The {name} parameter"
    text = f"{subject[0].upper()}{subject[1:]} {invalid.reason}."
    return "".join(c if 0x20 <= ord(c) <= 0x7E and c not in '"\\' else "?" for c in text)


def error_for(invalid: InvalidInput) -> OAuth2Error:
    """`invalid_target` for a malformed `resource` (RFC 8707 §2), else `invalid_request`."""
    if invalid.field == "resource":
        return InvalidTargetError(description(invalid))
    return InvalidRequestError(description(invalid))


def authorization_error(server: Any, request: BridgedRequest) -> OAuth2Error | None:
    """An `invalid_request` for a broken parameter at /authorize; redirected when safe.

    Runs inside Authlib's step (the client comes from the cache or is read on the loop).
    """
    invalid = invalid_parameter(request)
    if invalid is None:
        return None
    error = error_for(invalid)
    if invalid.field in NOT_REDIRECTED or invalid.field.startswith("a "):
        return error
    error.redirect_uri = _validated_redirect_uri(server, request)
    state = request.payload.state
    if error.redirect_uri and invalid.field != "state" and state and acceptable(state):
        error.state = state
    return error


def _validated_redirect_uri(server: Any, request: BridgedRequest) -> str | None:
    """The request's redirect URI when its client exists and registered it (§4.1.2.1)."""
    client_id, redirect_uri = request.payload.client_id, request.payload.redirect_uri
    if not client_id or not redirect_uri:
        return None
    client = server.query_client(client_id)
    if client is None or not client.check_redirect_uri(redirect_uri):
        return None
    return str(redirect_uri)
