"""The OpenAPI document of identity's REST APIs, served at `/openapi.json` and `/docs`.

Only the REST APIs under `/api/v1/` are described (the administrators' API and the
operators' API): sign-in pages, the console and the OAuth/OIDC endpoints are described
by OpenID Connect Discovery (`/.well-known/openid-configuration`), not here. Every
operation needs a bearer access token of this issuer with scope `tinpass:admin`, and
every refusal is an RFC 9457 problem (`application/problem+json`), which the document
says instead of FastAPI's default validation-error shape.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.routing import iter_route_contexts
from starlette.responses import HTMLResponse

from policy import PROBLEM_JSON
from policy.idempotency import KEY_HEADER
from policy.names import Scope

API_PREFIX = "/api/v1/"
SWAGGER_CDN = "https://cdn.jsdelivr.net"
DESCRIPTION = (
    "The REST APIs of TINpass identity: organization administrators manage their "
    "organization, people, Tax IDs and integrator clients; TINpass operators review "
    "registrations and Tax ID requests. Every call needs a bearer access token of this "
    f"issuer with the scope `{Scope.ADMIN}` (sign in through the console client). "
    "An organization you do not administer answers 404, like one that does not exist. "
    "Every error is an RFC 9457 problem (`application/problem+json`)."
)
PROBLEM: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"description": "For 422: each field that is not valid, with why."},
    },
}
REFUSALS = {
    "401": "No valid access token of this issuer (see the WWW-Authenticate challenge).",
    "403": f"The token lacks the scope {Scope.ADMIN}.",
    "404": "No such thing among what you administer (or operate).",
    "422": "The request is not valid; `errors` names each field.",
}
CHANGE_REFUSALS = {"409": "Not possible in the current state (the detail says why)."}
IDEMPOTENCY_REFUSALS = {
    "400": "The Idempotency-Key is not 1 to 200 printable ASCII characters.",
    "409": "Not possible in the current state, or a request with this Idempotency-Key is "
    "still being processed (`idempotency-key-in-use`: retry).",
    "422": "The request is not valid (`errors` names each field), or its Idempotency-Key was "
    "used for another request (`idempotency-key-reused`).",
}


def _problem_response(description: str) -> dict[str, Any]:
    schema = {"$ref": "#/components/schemas/Problem"}
    return {"description": description, "content": {PROBLEM_JSON: {"schema": schema}}}


def _describe_refusals(operation: dict[str, Any], method: str) -> None:
    refusals = dict(REFUSALS)
    if method != "get":
        refusals |= CHANGE_REFUSALS
    if any(p.get("name") == KEY_HEADER for p in operation.get("parameters", [])):
        refusals |= IDEMPOTENCY_REFUSALS
    for status, description in refusals.items():
        operation["responses"][status] = _problem_response(description)
    operation["security"] = [{"bearer": []}]


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


def document(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document of the routes under /api/v1/ (built once, then cached)."""
    if app.openapi_schema:
        return app.openapi_schema
    routes = [r for r in iter_route_contexts(app.routes) if (r.path or "").startswith(API_PREFIX)]
    spec = get_openapi(title=app.title, version=app.version, description=DESCRIPTION, routes=routes)
    for operations in spec["paths"].values():
        for method, operation in operations.items():
            _describe_refusals(operation, method)
    components = spec.setdefault("components", {})
    schemas = components.get("schemas", {})
    used = _reachable(schemas, _references(spec["paths"]))
    components["schemas"] = {n: s for n, s in schemas.items() if n in used} | {"Problem": PROBLEM}
    components["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    }
    app.openapi_schema = spec
    return spec


def _docs_policy(html: str) -> str:
    """The page's own Content-Security-Policy: Swagger UI's files from its CDN, and
    only the page's one inline script (by its hash), nothing else."""
    inline = re.findall(r"<script>(.*?)</script>", html, flags=re.DOTALL)
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in inline
    )
    return (
        f"default-src 'none'; script-src {SWAGGER_CDN} {hashes}; style-src {SWAGGER_CDN}; "
        "img-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"
    )


def install(app: FastAPI) -> None:
    """Serve the document at /openapi.json and Swagger UI at /docs."""
    app.openapi = lambda: document(app)  # type: ignore[method-assign]

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        page = get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} API")
        html = bytes(page.body).decode()
        return HTMLResponse(html, headers={"Content-Security-Policy": _docs_policy(html)})
