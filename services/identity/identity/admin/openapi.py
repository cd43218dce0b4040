"""The OpenAPI document of identity's REST APIs, served at `/openapi.json` and `/docs`.

Only the REST APIs under `/api/v1/` are described (the administrators' API and the
operators' API): sign-in pages, the console and the OAuth/OIDC endpoints are described
by OpenID Connect Discovery (`/.well-known/openid-configuration`), not here. Every
operation needs an access token of this issuer with scope `tinpass:admin`, got by a
person signing in (OAuth 2.0 authorization code: the token names the person), and
every refusal is an RFC 9457 problem (`application/problem+json`) as
`policy.apidocs` documents it. Swagger UI at /docs is served from identity itself.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import iter_route_contexts

from policy import apidocs
from policy.idempotency import KEY_HEADER
from policy.names import Scope

API_PREFIX = "/api/v1/"
DESCRIPTION = (
    "The REST APIs of TINpass identity: organization administrators manage their "
    "organization, people, Tax IDs and integrator clients; TINpass operators review "
    "registrations and Tax ID requests. Every call needs a bearer access token of this "
    f"issuer with the scope `{Scope.ADMIN}`, got by a person signing in (authorization "
    "code flow; a client credentials token names no person and is refused 401). "
    "An organization you do not administer answers 404, like one that does not exist. "
    "Every error is an RFC 9457 problem (`application/problem+json`)."
)
REFUSALS = {
    "401": "No valid access token of this issuer (see the WWW-Authenticate challenge).",
    "403": f"The token lacks the scope {Scope.ADMIN}.",
    "404": "No such thing among what you administer (or operate).",
    "422": "The request is not valid; `errors` names each field.",
    "503": apidocs.UNAVAILABLE,
}
CHANGE_REFUSALS = {"409": "Not possible in the current state (the detail says why)."}
SCOPE_DESCRIPTION = "Administer your organization (identity's REST APIs)."


def _describe_refusals(operation: dict[str, Any], method: str) -> None:
    refusals = dict(REFUSALS)
    if method != "get":
        refusals |= CHANGE_REFUSALS
    if apidocs.takes_header(operation, KEY_HEADER):
        refusals |= apidocs.IDEMPOTENCY_REFUSALS
    for status, description in refusals.items():
        operation["responses"][status] = {"description": description}


def _references(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"].rsplit("/", 1)[-1]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_references(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_references(v) for v in node))
    return set()


def _reachable(schemas: dict[str, Any], roots: set[str]) -> set[str]:
    seen: set[str] = set()
    todo = set(roots)
    while todo:
        name = todo.pop()
        if name in seen or name not in schemas:
            continue
        seen.add(name)
        todo |= _references(schemas[name])
    return seen


def document(app: FastAPI, issuer: str) -> dict[str, Any]:
    """The OpenAPI document of the routes under /api/v1/ (built once, then cached)."""
    if app.openapi_schema:
        return app.openapi_schema
    routes = [r for r in iter_route_contexts(app.routes) if (r.path or "").startswith(API_PREFIX)]
    spec = get_openapi(title=app.title, version=app.version, description=DESCRIPTION, routes=routes)
    for operations in spec["paths"].values():
        for method, operation in operations.items():
            _describe_refusals(operation, method)
    schemas = spec.setdefault("components", {}).get("schemas", {})
    used = _reachable(schemas, _references(spec["paths"]))
    spec["components"]["schemas"] = {n: s for n, s in schemas.items() if n in used}
    schemes = apidocs.oauth2_schemes(issuer, {Scope.ADMIN: SCOPE_DESCRIPTION})
    app.openapi_schema = apidocs.describe(
        spec,
        refusals={},
        security=lambda _operation: [{"authorizationCode": [Scope.ADMIN]}],
        schemes=schemes,
    )
    return spec


def install(app: FastAPI, issuer: str) -> None:
    """Serve the document at /openapi.json and Swagger UI at /docs (its files too)."""
    app.openapi = lambda: document(app, issuer)  # type: ignore[method-assign]
    parts = urlsplit(issuer)
    apidocs.install_docs(app, f"{app.title} API", connect=(f"{parts.scheme}://{parts.netloc}",))
