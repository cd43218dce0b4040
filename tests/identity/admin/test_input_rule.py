"""The one input rule at the admin API: every string field of every request body
refuses control characters (a NUL broke PostgreSQL; CR/LF broke the nomination
mail) and values longer than their column, with a 422 problem naming the field;
a control character in a path answers 400. Nothing is stored."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.openapi.utils import get_openapi
from sqlalchemy import func, select

from identity.admin import api, clients_api, operator_api
from identity.models import Nomination, Organization
from policy.inputs import SINGLE_LINE_PATTERN
from tests.identity.admin_flows import admin_token, bearer, org_id_of, user_id_of
from tests.identity.harness import IdentityHarness

EVERGREEN = "Evergreen Family Clinic"
CONTROL = ["\x00", "\r\n", "\t", "\x7f", "\x85"]


def _request_bodies(identity: IdentityHarness) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, schema) of every JSON request body under /api/v1."""
    routes = [*api.router.routes, *clients_api.router.routes, *operator_api.router.routes]
    spec = get_openapi(title="admin", version="1", routes=routes)
    schemas = spec["components"]["schemas"]
    found = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if path.startswith("/api/v1/") and body:
                refs = [
                    o["$ref"] for o in body["schema"].get("anyOf", [body["schema"]]) if "$ref" in o
                ]
                ref = refs[0].rsplit("/", 1)[-1]
                found.append((method, path, schemas[ref]))
    return found


def _string_schema(prop: dict[str, Any]) -> tuple[dict[str, Any], bool] | None:
    """The property's string schema and whether it is a list of strings."""
    for option in prop.get("anyOf", [prop]):
        if option.get("type") == "string":
            return option, False
        if option.get("type") == "array" and option.get("items", {}).get("type") == "string":
            return option["items"], True
    return None


def test_every_admin_string_field_declares_its_length(identity: IdentityHarness) -> None:
    bodies = _request_bodies(identity)
    assert len(bodies) >= 8
    for method, path, schema in bodies:
        for name, prop in schema["properties"].items():
            string = _string_schema(prop)
            if string is not None:
                assert "maxLength" in string[0], f"{method} {path}: {name} has no length"
                assert "pattern" in string[0], f"{method} {path}: {name} says no rule"


def _target(path: str, org: str, member: str) -> str:
    known = {"org_id": org, "user_id": member}
    return re.sub(r"\{(\w+)\}", lambda m: known.get(m.group(1), "none"), path)


async def test_every_string_field_refuses_control_characters_and_overlong_values(
    identity: IdentityHarness,
) -> None:
    token, org = await admin_token(identity, "ever.admin"), await org_id_of(identity, EVERGREEN)
    operator = await admin_token(identity, "ops.olivia")
    member = await user_id_of(identity, "sam.biller")
    tried = 0
    async with identity.client() as api:
        for method, path, schema in _request_bodies(identity):
            api.headers.update(bearer(operator if "/operator/" in path else token))
            for name, prop in schema["properties"].items():
                string = _string_schema(prop)
                if string is None:
                    continue
                length, as_list = string[0]["maxLength"], string[1]
                controls = CONTROL if string[0]["pattern"] == SINGLE_LINE_PATTERN else ["\x00"]
                control = controls[tried % len(controls)]
                for bad in [f"ok{control}ok", "x" * (length + 1)]:
                    value: Any = [bad] if as_list else bad
                    answer = await api.request(
                        method, _target(path, org, member), json={name: value}
                    )
                    tried += 1
                    where = f"{method.upper()} {path} {name}={bad[:8]!r}"
                    assert answer.status_code == 422, f"{where}: {answer.status_code} {answer.text}"
                    assert answer.headers["content-type"] == "application/problem+json", where
                    errors = answer.json()["errors"]
                    said = [m for f, m in errors.items() if f.split(".")[0] == name]
                    assert said and ("control" in said[0] or "at most" in said[0]), where
    assert tried >= 40


@pytest.mark.parametrize("email", ["new.person@example.org\r\nBcc: all@example.org", "a\x00@x.org"])
async def test_a_nomination_address_with_a_line_break_or_nul_is_refused(
    identity: IdentityHarness, email: str
) -> None:
    token, org = await admin_token(identity, "ever.admin"), await org_id_of(identity, EVERGREEN)
    async with identity.client(headers=bearer(token)) as api:
        answer = await api.post(f"/api/v1/organizations/{org}/nominations", json={"email": email})
    assert answer.status_code == 422, answer.text
    assert "control character" in answer.json()["errors"]["email"]
    async with identity.session() as session:
        stored = await session.scalar(select(func.count()).select_from(Nomination))
    assert stored == 0, "nothing is committed"


async def test_a_ten_thousand_character_email_is_refused(identity: IdentityHarness) -> None:
    token, org = await admin_token(identity, "ever.admin"), await org_id_of(identity, EVERGREEN)
    async with identity.client(headers=bearer(token)) as api:
        answer = await api.post(
            f"/api/v1/organizations/{org}/nominations",
            json={"email": "a" * 10_000 + "@example.org"},
        )
    assert answer.status_code == 422, answer.text
    assert "254" in answer.json()["errors"]["email"]


async def test_an_organization_name_with_a_line_break_is_refused_then_nominations_work(
    identity: IdentityHarness, mailing: Any
) -> None:
    token, org = await admin_token(identity, "ever.admin"), await org_id_of(identity, EVERGREEN)
    async with identity.client(headers=bearer(token)) as api:
        renamed = await api.patch(
            f"/api/v1/organizations/{org}", json={"name": "Evergreen\r\nSubject: win"}
        )
        child = await api.post(
            f"/api/v1/organizations/{org}/sub-organizations", json={"name": "Lab\nBcc: x"}
        )
    assert renamed.status_code == 422 and "name" in renamed.json()["errors"]
    assert child.status_code == 422 and "name" in child.json()["errors"]
    async with identity.session() as session:
        names = list(await session.scalars(select(Organization.name)))
    assert not [n for n in names if "\n" in n or "\r" in n]
    # The same through a service that really mails: the nomination is sent.
    mailer_identity, inbox = mailing
    token = await admin_token(mailer_identity, "ever.admin")
    org = await org_id_of(mailer_identity, EVERGREEN)
    async with mailer_identity.client(headers=bearer(token)) as api:
        renamed = await api.patch(f"/api/v1/organizations/{org}", json={"name": "Ever\r\ngreen"})
        nominated = await api.post(
            f"/api/v1/organizations/{org}/nominations", json={"email": "new.one@example.org"}
        )
    assert renamed.status_code == 422
    assert nominated.status_code == 201, nominated.text
    assert inbox.to("new.one@example.org"), "the nomination was mailed"


@pytest.mark.parametrize("segment", ["%00", "a%0Ab", "%C2%85"])
async def test_a_control_character_in_a_path_is_refused(
    identity: IdentityHarness, segment: str
) -> None:
    token = await admin_token(identity, "ever.admin")
    async with identity.client(headers=bearer(token)) as api:
        answers = [
            await api.get(f"/api/v1/organizations/{segment}"),
            await api.get(f"/api/v1/organizations/{segment}/members"),
            await api.delete(f"/api/v1/organizations/{segment}/members/{segment}"),
        ]
    for answer in answers:
        assert answer.status_code == 400, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["field"] == "path"
        assert "control character" in answer.json()["detail"]
