"""RFC 8707: Resource Indicators for OAuth 2.0, as extensions of Authlib's grants.

Authlib has no RFC 8707 module (its RFC 9068 generator leaves `resource` as a
TODO), so this is one: small hooks registered on the grants, no branches in them.

Each health plan's APIs are one protected resource, named by an absolute URI
(`Settings.resources` lists them with their names). A client may use the
resources registered on it; the first is its default.

- `/authorize`: zero or more `resource` values, each among the client's; none
  means the client's default. The authorization code keeps them (the grant).
- `/token`, authorization_code and refresh_token: at most one `resource`, one of
  the grant's (a request may narrow the grant, never widen it); none means the
  grant's first. A rotated refresh token keeps the whole grant.
- `/token`, client_credentials: at most one `resource`, one of the client's.

Every value is checked as an absolute URI without a fragment (§2). A refusal is
`invalid_target`. The chosen resource becomes the access token's `aud`
(`identity.oauth.rfc9068`), through the protocol context.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from authlib.oauth2 import OAuth2Error

from identity.oauth.bridge import current
from identity.settings import resource_uri_error


class InvalidTargetError(OAuth2Error):
    """RFC 8707 §2: the requested resource is invalid, unknown or not allowed here."""

    error = "invalid_target"
    status_code = 400


def requested_resources(grant: Any) -> list[str]:
    """The request's `resource` values (in order, without repeats), each a valid URI."""
    values: list[str] = list(dict.fromkeys(grant.request.payload.datalist.get("resource", [])))
    for value in values:
        error = resource_uri_error(value)
        if error:
            raise InvalidTargetError(f"resource '{_shown(value)}': {error} (RFC 8707 section 2).")
    return values


def _shown(value: str) -> str:
    """A value as an error description may carry it (RFC 6749 §5.2: no quote, no backslash)."""
    return "".join(c if " " <= c <= "~" and c not in '\\"' else "?" for c in value[:300])


def usable(grant: Any, granted: Sequence[str]) -> list[str]:
    """Of `granted`, what the client may still use: registered on it and still known
    (an administrator may have taken a plan from the client since a code was issued)."""
    known = current().settings.resources
    return [r for r in granted if r in grant.request.client.resources and r in known]


def _within(requested: Sequence[str], allowed: Sequence[str], whose: str) -> None:
    for value in requested:
        if value not in allowed:
            offered = _shown(", ".join(allowed)) or "none"
            raise InvalidTargetError(
                f"{_shown(value)} is not a resource {whose} may use (allowed: {offered})."
            )


def _one(grant: Any, allowed: Sequence[str], whose: str) -> str | None:
    """The resource of one access token: the one asked for, or the first allowed."""
    requested = requested_resources(grant)
    if len(requested) > 1:
        raise InvalidTargetError("Ask for one resource per access token.")
    _within(requested, allowed, whose)
    chosen = requested[0] if requested else next(iter(allowed), None)
    grant.request.resources = tuple(allowed)
    grant.request.resource = chosen
    current().resource = chosen
    return chosen


def _authorization_request(grant: Any, *_: Any) -> None:
    """At /authorize: the resources the code will grant (the client's default if none)."""
    allowed = usable(grant, grant.request.client.resources)
    requested = requested_resources(grant)
    _within(requested, allowed, "this client")
    grant.request.resources = tuple(requested) or tuple(allowed[:1])


def _code_exchange(grant: Any, *_: Any) -> None:
    _one(grant, usable(grant, grant.request.authorization_code.resources), "this code")


def _refresh(grant: Any, *_: Any) -> None:
    _one(grant, usable(grant, grant.request.refresh_token.resources), "this refresh token")


def _client_credentials(grant: Any, *_: Any) -> None:
    _one(grant, usable(grant, grant.request.client.resources), "this client")


class CodeResources:
    """On the authorization code grant: at /authorize and at the code exchange."""

    def __call__(self, grant: Any) -> None:
        grant.register_hook("after_validate_authorization_request_payload", _authorization_request)
        grant.register_hook("after_validate_token_request", _code_exchange)


class RefreshResources:
    """On the refresh token grant, once the refresh token is known, before any rotation."""

    def __call__(self, grant: Any) -> None:
        grant.register_hook("after_validate_token_request", _refresh)


class ClientResources:
    """On the client credentials grant, once the client is authenticated."""

    def __call__(self, grant: Any) -> None:
        grant.register_hook("after_validate_token_request", _client_credentials)


def granted_resources(request: Any) -> tuple[str, ...]:
    """What a grant request was given: kept on its code or its (new) refresh token."""
    resources: tuple[str, ...] = getattr(request, "resources", ())
    return resources
