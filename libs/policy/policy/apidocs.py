"""API descriptions for integrators: OpenAPI documents that say what the services
really answer, and Swagger UI at `/docs` served by the service itself.

`describe(spec, ...)` completes a FastAPI-generated OpenAPI document: every 4xx/5xx
response is the RFC 9457 problem the services answer (`Problem`; FastAPI's
`HTTPValidationError` is dropped: no service answers it), the refusals every
operation may meet are listed, and each operation names the OAuth 2.0 flows whose
tokens it accepts (`oauth2_schemes`, with the issuer's real token and authorize URLs).

`install_docs(app, ...)` serves Swagger UI from the files vendored in `swagger_ui/`
(npm `swagger-ui-dist`, see its VERSION file): no CDN, so the page works offline and
behind a firewall, under a Content-Security-Policy that allows only this origin's
scripts and styles (no inline script at all).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response

from policy.problems import PROBLEM_JSON

ASSETS = Path(__file__).parent / "swagger_ui"
ASSET_PATH = "/docs/assets/"
# The only files served (name: media type); anything else under ASSET_PATH is a 404.
ASSET_FILES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "init.js": "text/javascript",
    "docs.css": "text/css",
    "oauth2-redirect.js": "text/javascript",
}
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details (`application/problem+json`). `type` is a "
    "stable URI per kind of problem; `detail` says what to do about it.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "request_id": {"type": "string", "description": "Quote it when asking for help."},
        "errors": {
            "type": "array",
            "description": "For 422 validation problems: each field that is not valid, and why.",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,
}
# FastAPI's own schemas for a 422 shape no service answers.
FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")
UNAVAILABLE = (
    "A service this one depends on (its database) is briefly unavailable: retry after "
    "`Retry-After` seconds."
)

IDEMPOTENCY_REFUSALS = {
    "400": "The Idempotency-Key is not 1 to 200 printable ASCII characters.",
    "409": "Not possible in the current state, or a request with this Idempotency-Key is "
    "still being processed (`idempotency-key-in-use`: retry shortly).",
    "422": "The request is not valid (`errors` names each field), or its Idempotency-Key was "
    "used for another request (`idempotency-key-reused`).",
}


def takes_header(operation: dict[str, Any], name: str) -> bool:
    return any(p.get("name") == name for p in operation.get("parameters", []))


def problem_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}}}


def oauth2_schemes(issuer: str, scopes: dict[str, str]) -> dict[str, Any]:
    """The two OAuth 2.0 flows TINpass issues access tokens by, at the issuer's URLs."""
    base = issuer.rstrip("/")
    return {
        "clientCredentials": {
            "type": "oauth2",
            "description": "A system-to-system client (private_key_jwt or client_secret_basic "
            "at the token endpoint); the token carries the client's organization and Tax IDs.",
            "flows": {"clientCredentials": {"tokenUrl": f"{base}/token", "scopes": scopes}},
        },
        "authorizationCode": {
            "type": "oauth2",
            "description": "A person signed in through a client application (with PKCE).",
            "flows": {
                "authorizationCode": {
                    "authorizationUrl": f"{base}/authorize",
                    "tokenUrl": f"{base}/token",
                    "scopes": scopes,
                }
            },
        },
    }


def operations(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every operation of a document, by "METHOD /path"."""
    return {
        f"{method.upper()} {path}": operation
        for path, methods in spec.get("paths", {}).items()
        for method, operation in methods.items()
        if isinstance(operation, dict) and "responses" in operation
    }


Security = list[dict[str, list[str]]]


def describe(
    spec: dict[str, Any],
    *,
    refusals: dict[str, str],
    security: Callable[[str], Security] | None,
    schemes: dict[str, Any],
    prefixes: tuple[str, ...] = ("/",),
) -> dict[str, Any]:
    """Every operation under `prefixes`: `refusals` added where not already described
    (or described only as FastAPI's "Validation Error"), every 4xx/5xx a problem, the
    OAuth 2.0 `security(operation name)` required (None: kept as it is); FastAPI's
    validation schemas replaced by `Problem`."""
    for name, operation in operations(spec).items():
        if not name.partition(" ")[2].startswith(prefixes):
            continue
        responses = operation["responses"]
        for status, description in refusals.items():
            known = responses.get(status, {}).get("description")
            if known in (None, "Validation Error"):
                responses[status] = {"description": description}
        for status, response in responses.items():
            if status[0] in "45":
                response["content"] = {PROBLEM_JSON: {"schema": PROBLEM_REF}}
        if security is not None:
            operation["security"] = security(name)
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in FASTAPI_VALIDATION:
        schemas.pop(name, None)
    schemas["Problem"] = PROBLEM_SCHEMA
    components["securitySchemes"] = schemes
    return spec


def page(title: str, openapi_url: str) -> str:
    """The /docs page: no inline script or style; init.js reads its settings from
    data attributes of the element Swagger UI renders into (and which holds Swagger
    UI's own <main> landmark)."""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<link rel="stylesheet" href="{ASSET_PATH}swagger-ui.css">
<link rel="stylesheet" href="{ASSET_PATH}docs.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{html.escape(openapi_url)}"
 data-oauth2-redirect="/docs/oauth2-redirect.html">
<noscript><p>This page needs JavaScript. The API description itself is at
<a href="{html.escape(openapi_url)}">{html.escape(openapi_url)}</a>.</p></noscript>
</div>
<script src="{ASSET_PATH}swagger-ui-bundle.js"></script>
<script src="{ASSET_PATH}init.js"></script>
</body>
</html>
"""


def content_security_policy(connect: tuple[str, ...] = ()) -> str:
    """This origin's scripts and styles only; `connect` adds origins "Try it out" and
    "Authorize" may call (the issuer's token endpoint)."""
    sources = " ".join(("'self'", *connect))
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src {sources}; base-uri 'none'; frame-ancestors 'none'"
    )


def install_docs(
    app: Starlette, title: str, openapi_url: str = "/openapi.json", connect: tuple[str, ...] = ()
) -> None:
    """Serve Swagger UI at /docs (and its files under /docs/assets/) from this service."""
    policy = content_security_policy(connect)
    document = page(title, openapi_url)
    redirect = (ASSETS / "oauth2-redirect.html").read_text()
    redirect = redirect.replace('src="oauth2-redirect.js"', f'src="{ASSET_PATH}oauth2-redirect.js"')

    async def docs(request: Request) -> Response:
        return HTMLResponse(document, headers={"Content-Security-Policy": policy})

    async def oauth2_redirect(request: Request) -> Response:
        fixed = redirect.replace(
            'src="oauth2-redirect.js"', f'src="{ASSET_PATH}oauth2-redirect.js"'
        )
        return HTMLResponse(fixed, headers={"Content-Security-Policy": policy})

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ASSET_FILES:
            return Response(status_code=404)
        return FileResponse(
            ASSETS / name,
            media_type=ASSET_FILES[name],
            headers={"Cache-Control": "public, max-age=86400"},
        )

    app.add_route("/docs", docs, methods=["GET"], include_in_schema=False)
    app.add_route("/docs/oauth2-redirect.html", oauth2_redirect, methods=["GET"],
                  include_in_schema=False)  # fmt: skip
    app.add_route(ASSET_PATH + "{name}", asset, methods=["GET"], include_in_schema=False)
