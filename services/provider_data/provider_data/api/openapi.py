"""The OpenAPI document of a plan's eligibility or claims API (`/openapi.json`), and
Swagger UI at `/docs` served by the service itself (`policy.apidocs`).

Every refusal is documented as the RFC 9457 problem it is, every operation names the
scope its token needs and the OAuth 2.0 flows that issue one (at the issuer's real
token and authorize URLs). The gateway serves the two documents merged, with its own
refusals added (`gateway.apidocs`): integrators call the APIs through the gateway.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from policy import apidocs
from policy.idempotency import KEY_HEADER
from policy.names import Scope

PREFIXES = ("/eligibility/", "/claims/")
SCOPES = {
    Scope.ELIGIBILITY_READ: "Ask about members' eligibility and benefits.",
    Scope.CLAIMS_READ: "Read claims, their status and Explanations of Benefits.",
    Scope.CLAIMS_WRITE: "Submit claims.",
}
REFUSALS = {
    "401": "No valid access token (see the `WWW-Authenticate` challenge).",
    "403": "The token lacks the scope or role this needs, or your Tax IDs match no "
    "provider record at this plan (the problem's `detail` and `reason` say which).",
    "422": "The request is not valid: `errors` names each field and why.",
    "503": apidocs.UNAVAILABLE,
}

# Refusals particular to some operations, beyond those their routes declare.
PARTICULAR = {
    "GET /claims/v1/claims": {
        "400": "The `cursor` is not one this API gave: start again without it."
    },
    "POST /claims/v1/claims": {
        "429": "Too many recent claims for members whose details did not match: retry "
        "after `Retry-After` seconds."
    },
}
PARTICULAR["POST /claims/v1/claims/bulk"] = PARTICULAR["POST /claims/v1/claims"]


def _particular(spec: dict[str, Any]) -> None:
    for name, operation in apidocs.operations(spec).items():
        responses = operation["responses"]
        extra = dict(PARTICULAR.get(name, {}))
        if apidocs.takes_header(operation, KEY_HEADER):
            extra |= apidocs.IDEMPOTENCY_REFUSALS
        for status, description in extra.items():
            known = responses.get(status, {}).get("description", "Validation Error")
            both = description if known == "Validation Error" else f"{known} Or: {description}"
            responses[status] = {"description": both}


def scope_of(operation: str) -> str:
    """The scope an operation ("METHOD /path") needs (policy.decision's rules)."""
    method, _, path = operation.partition(" ")
    if path.startswith("/eligibility/"):
        return Scope.ELIGIBILITY_READ
    return Scope.CLAIMS_READ if method == "GET" else Scope.CLAIMS_WRITE


def security(operation: str) -> apidocs.Security:
    scope = scope_of(operation)
    return [{"clientCredentials": [scope]}, {"authorizationCode": [scope]}]


def document(app: FastAPI, issuer: str) -> dict[str, Any]:
    """The app's OpenAPI document, with problems and security described (built once)."""
    if app.openapi_schema:
        return app.openapi_schema
    spec = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    _particular(spec)
    app.openapi_schema = apidocs.describe(
        spec,
        refusals=REFUSALS,
        security=security,
        schemes=apidocs.oauth2_schemes(issuer, SCOPES),
        prefixes=PREFIXES,
    )
    return spec


def install(app: FastAPI, issuer: str) -> None:
    app.openapi = lambda: document(app, issuer)  # type: ignore[method-assign]
    parts = urlsplit(issuer)
    apidocs.install_docs(app, f"{app.title} API", connect=(f"{parts.scheme}://{parts.netloc}",))
