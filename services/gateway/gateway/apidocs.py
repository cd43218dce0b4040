"""The plan's APIs as integrators call them: one OpenAPI document at the gateway's
`/openapi.json`, and Swagger UI at `/docs` (served by the gateway, no CDN).

The document is the eligibility and claims services' own documents (fetched from
them through the upstream pools, so it always describes the versions running behind
this gateway), merged: their paths under `/eligibility/` and `/claims/` (the routes
the gateway forwards), their schemas, the OAuth 2.0 flows at the issuer's URLs
(`policy.apidocs`), and the refusals the gateway itself answers before or instead of
a service (token, size, rate limits, upstream failures), all RFC 9457 problems.
It is kept for CACHE_SECONDS; while a service cannot be asked, /openapi.json answers
a 503 problem with Retry-After.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import Response

from gateway.problems import problem_response
from gateway.settings import Settings
from gateway.upstream import UpstreamError, Upstreams
from policy import apidocs
from policy.fastjson import FastJSONResponse

CACHE_SECONDS = 300.0
RETRY_AFTER = 5
TITLE = "TINpass plan APIs (through the gateway)"
DESCRIPTION = (
    "Eligibility and claims of this health plan, for provider organizations' systems. "
    "Call them here, at the gateway, with an OAuth 2.0 access token from TINpass "
    "(client credentials for a system; authorization code for a person). Every error "
    "is an RFC 9457 problem (`application/problem+json`); a 429 or 503 says how long "
    "to wait in `Retry-After`. Getting started: docs/integrators.md."
)
# What the gateway answers on every forwarded operation, on top of the service's own.
EDGE_REFUSALS = {
    "401": "No valid access token (see the `WWW-Authenticate` challenge).",
    "413": "The request body is larger than the gateway accepts.",
    "429": "Too many requests from this client or network address: retry after "
    "`Retry-After` seconds.",
    "502": "The plan's service cannot be reached: retry shortly.",
    "503": "The plan's service is busy, or a service it depends on is briefly "
    "unavailable: retry after `Retry-After` seconds.",
    "504": "The plan's service did not answer in time: retry shortly.",
}
UPSTREAMS = ("eligibility", "claims")


class DescriptionUnavailable(Exception):
    pass


async def _fetch(upstreams: Upstreams, name: str, deadline: float) -> dict[str, Any]:
    try:
        reply = await upstreams[name].exchange("GET", "/openapi.json", (), b"", deadline)
    except UpstreamError as error:
        raise DescriptionUnavailable(name) from error
    if reply.status != 200:
        raise DescriptionUnavailable(name)
    spec: dict[str, Any] = json.loads(reply.body)
    return spec


def _with_edge_refusals(operation: dict[str, Any]) -> None:
    responses = operation["responses"]
    for status, description in EDGE_REFUSALS.items():
        known = responses.get(status, {}).get("description")
        if known is None:
            responses[status] = {"description": description}
        elif status != "401":  # the same challenge, at the edge or behind it
            responses[status] = {"description": f"{known} Or: {description}"}


def merge(documents: dict[str, dict[str, Any]], issuer: str) -> dict[str, Any]:
    """One document of the services' forwarded paths, their schemas and the edge's
    refusals. A schema name two services define differently is an error (a bug to fix
    in a service's models, not something to paper over)."""
    first = next(iter(documents.values()))
    merged: dict[str, Any] = {
        "openapi": first["openapi"],
        "info": {"title": TITLE, "version": first["info"]["version"], "description": DESCRIPTION},
        "paths": {},
        "tags": [
            {"name": name, "description": documents[name]["info"].get("description", "")}
            for name in documents
        ],
        "components": {"schemas": {}},
    }
    schemas = merged["components"]["schemas"]
    for name, spec in documents.items():
        prefix = f"/{name}/"
        merged["paths"] |= {p: v for p, v in spec["paths"].items() if p.startswith(prefix)}
        for schema, body in spec.get("components", {}).get("schemas", {}).items():
            if schemas.setdefault(schema, body) != body:
                raise ValueError(f"schema {schema} differs between the services")
    for operation in apidocs.operations(merged).values():
        _with_edge_refusals(operation)
    scopes: dict[str, str] = {}
    for spec in documents.values():
        for scheme in spec.get("components", {}).get("securitySchemes", {}).values():
            for flow in scheme.get("flows", {}).values():
                scopes |= flow.get("scopes", {})
    return apidocs.describe(
        merged, refusals={}, security=None, schemes=apidocs.oauth2_schemes(issuer, scopes)
    )


async def document(request: Request) -> dict[str, Any]:
    state = request.app.state
    cached: tuple[float, dict[str, Any]] | None = getattr(state, "openapi_document", None)
    if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]
    settings: Settings = state.settings
    documents = {
        name: await _fetch(state.upstreams, name, settings.upstream_deadline) for name in UPSTREAMS
    }
    spec = merge(documents, settings.issuer)
    state.openapi_document = (time.monotonic(), spec)
    return spec


router = APIRouter()


@router.get("/openapi.json", include_in_schema=False)
async def openapi(request: Request) -> Response:
    try:
        spec = await document(request)
    except DescriptionUnavailable as error:
        return problem_response(
            503,
            "API description unavailable",
            f"The {error.args[0]} service cannot be asked for its description now. "
            "Try again shortly.",
            "service-unavailable",
            request.state.request_id,
            **{"Retry-After": str(RETRY_AFTER)},
        )
    return FastJSONResponse(spec)


def install(app: FastAPI, settings: Settings) -> None:
    app.include_router(router)
    parts = urlsplit(settings.issuer)
    apidocs.install_docs(app, TITLE, connect=(f"{parts.scheme}://{parts.netloc}",))
