"""RFC 6750: bearer tokens in the Authorization header, and WWW-Authenticate."""

from __future__ import annotations

from policy.errors import InvalidToken


def bearer_token(authorization_header: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1)."""
    if not authorization_header:
        raise InvalidToken(
            "invalid_request", "An access token is required: send Authorization: Bearer <token>."
        )
    scheme, _, token = authorization_header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise InvalidToken("invalid_request", "The Authorization header must be 'Bearer <token>'.")
    return token


def www_authenticate(error: str | None, description: str | None, realm: str = "tinpass") -> str:
    """The challenge (§3): no error attributes when the request simply had no token."""
    challenge = f'Bearer realm="{realm}"'
    if error:
        challenge += f', error="{error}"'
        if description:
            safe = description.replace('"', "'").replace("\\", "/")
            challenge += f', error_description="{safe}"'
    return challenge
