"""policy.apidocs: what an OpenAPI document says about refusals and security."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from policy import apidocs


class Thing(BaseModel):
    name: str


def _spec() -> dict[str, Any]:
    app = FastAPI()

    @app.post("/things/v1/things", responses={404: {"description": "No such shelf."}})
    async def add(thing: Thing) -> Thing:
        return thing

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return get_openapi(title="things", version="1", routes=app.routes)


def test_refusals_become_problems_and_fastapi_validation_schemas_go() -> None:
    schemes = apidocs.oauth2_schemes("https://id.example/", {"things": "Things."})
    spec = apidocs.describe(
        _spec(),
        refusals={"401": "No token.", "422": "Not valid.", "503": apidocs.UNAVAILABLE},
        security=lambda name: [{"clientCredentials": ["things"]}],
        schemes=schemes,
        prefixes=("/things/",),
    )
    add = spec["paths"]["/things/v1/things"]["post"]
    assert add["responses"]["404"]["description"] == "No such shelf."  # the route's own kept
    assert add["responses"]["422"]["description"] == "Not valid."  # FastAPI's replaced
    for status in ("401", "404", "422", "503"):
        assert add["responses"][status]["content"] == {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        }
    assert add["security"] == [{"clientCredentials": ["things"]}]
    assert "security" not in spec["paths"]["/healthz"]["get"]
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert schemas["Problem"]["required"] == ["type", "title", "status", "detail"]
    flows = spec["components"]["securitySchemes"]["clientCredentials"]["flows"]
    assert flows["clientCredentials"]["tokenUrl"] == "https://id.example/token"


def test_the_page_has_no_inline_script_and_the_policy_allows_none() -> None:
    page = apidocs.page("Things API", "/openapi.json")
    assert "<script>" not in page and "<style" not in page and "style=" not in page
    assert 'lang="en"' in page
    policy = apidocs.content_security_policy(("https://id.example",))
    assert "script-src 'self';" in policy
    assert "connect-src 'self' https://id.example;" in policy
    assert "unsafe" not in policy


def test_every_served_file_is_vendored() -> None:
    for name in apidocs.ASSET_FILES:
        assert (apidocs.ASSETS / name).is_file(), name
    assert "swagger-ui-dist" in (apidocs.ASSETS / "VERSION").read_text()
