"""The one input rule (policy.inputs, policy.boundary) and the one request-id rule."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import pytest
from pydantic import ValidationError

from policy.boundary import header_problem, request_problem
from policy.inputs import (
    Input,
    InvalidInput,
    Text,
    check,
    first_invalid,
    problem,
    request_id,
    safe_request_id,
)


@pytest.mark.parametrize(
    "value", ["a\x00b", "a\nb", "a\rb", "a\tb", "\x7f", "a\x85b", "\x1b[31m", "\ud800"]
)
def test_control_characters_and_lone_surrogates_break_the_rule(value: str) -> None:
    reason = problem(value, 100)
    assert reason is not None and "U+" in reason
    with pytest.raises(InvalidInput) as raised:
        check("email", value, 100)
    assert raised.value.field == "email" and raised.value.message.startswith("email: ")


@pytest.mark.parametrize("value", ["", "Anne-Marie O'Brien", "Zoë Łukasiewicz", "株式会社", "a b"])
def test_ordinary_text_keeps_the_rule(value: str) -> None:
    assert problem(value, 100) is None


def test_line_breaks_only_in_multiline_fields_and_never_nul() -> None:
    assert problem("first\r\nsecond\tthird", multiline=True) is None
    assert problem("first\x00", multiline=True) is not None
    assert problem("first\nsecond") is not None


def test_length_comes_from_the_limit() -> None:
    assert problem("x" * 254, 254) is None
    assert problem("x" * 255, 254) == "is 255 characters long; at most 254 are accepted"


def test_first_invalid_names_the_field_with_its_own_limit() -> None:
    pairs = [("username", "ann"), ("email", "a" * 300), ("reason", "one\ntwo")]
    found = first_invalid(pairs, {"email": 254}, 64, multiline=["reason"])
    assert found is not None and found.field == "email" and "254" in found.reason
    assert first_invalid([("reason", "one\ntwo")], {}, 64, multiline=["reason"]) is None
    assert first_invalid([("other", "x" * 65)], {}, 64) is not None


class Body(Input):
    name: Annotated[str, Text(10)]
    tags: list[Annotated[str, Text(5)]] = []
    note: Annotated[str, Text(50, multiline=True)] = ""
    extra: dict[str, Any] | None = None
    multiline_fields = frozenset({"note"})


def _errors(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as raised:
        Body.model_validate(data)
    return {".".join(map(str, e["loc"])): e["msg"] for e in raised.value.errors()}


def test_request_models_refuse_control_characters_anywhere_with_the_field_named() -> None:
    assert "control character" in _errors({"name": "a\x00"})["name"]
    assert (
        "[1] contains a control character" in _errors({"name": "a", "tags": ["ok", "b\n"]})["tags"]
    )
    assert "control character" in _errors({"name": "a", "extra": {"k": ["\x00"]}})["extra"]
    assert "key" in _errors({"name": "a", "extra": {"k\x00": 1}})["extra"]
    assert "at most 10" in _errors({"name": "x" * 11})["name"]
    assert Body.model_validate({"name": "a", "note": "one\ntwo"}).note == "one\ntwo"


def test_the_schema_says_the_rule() -> None:
    schema = Body.model_json_schema()["properties"]
    assert schema["name"]["maxLength"] == 10 and schema["name"]["pattern"].startswith("^[^")
    assert schema["tags"]["items"]["maxLength"] == 5


@pytest.mark.parametrize("supplied", ["abc-123", "req_1.2", "A" * 64, str(uuid.uuid4())])
def test_safe_request_ids_are_kept(supplied: str) -> None:
    assert safe_request_id(supplied) == supplied and request_id(supplied) == supplied


@pytest.mark.parametrize(
    "supplied", ["<script>alert(1)</script>", "x" * 5000, "A" * 65, "", None, "a b", "é1", "-a"]
)
def test_unsafe_request_ids_are_replaced(supplied: str | None) -> None:
    assert safe_request_id(supplied) is None
    made = request_id(supplied)
    assert made != supplied and uuid.UUID(made)


def _scope(
    path: str = "/x", query: bytes = b"", headers: list[tuple[bytes, bytes]] | None = None
) -> Any:
    return {"type": "http", "path": path, "query_string": query, "headers": headers or []}


def test_the_boundary_checks_path_query_and_headers() -> None:
    assert request_problem(_scope("/a\x00b")).field == "path"  # type: ignore[union-attr]
    found = request_problem(_scope(query=b"cursor=a%00b"))
    assert found is not None and found.field == "query parameter cursor"
    assert request_problem(_scope(query=b"cursor=a%00b"), check_query=False) is None
    assert request_problem(_scope(query=b"q=Zo%C3%AB&x=1")) is None
    latin = [(b"x-note", "café".encode("latin-1"))]
    assert request_problem(_scope(headers=latin)) is None, "headers only where asked"
    found = request_problem(_scope(headers=latin), check_headers=True)
    assert found is not None and found.field == "header x-note" and "0xE9" in found.reason
    assert header_problem("user-agent", b"Mozilla/5.0\t(X11)") is None
