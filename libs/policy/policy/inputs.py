"""One input rule for every boundary: no control characters, no over-long values.

A value a person or a program sends may not contain control characters (C0 and
C1, DEL, NUL; tab, CR and LF only where a field is declared multi-line) nor lone
surrogates (which no database can store), and may not be longer than the column
that keeps it. Services apply the rule where input enters them: pydantic request
models (`Text`, `Input`), HTML forms, OAuth parameters, request headers and paths.
A value that breaks the rule is refused with the field's name and a reason a
person can act on, never stored, mailed or echoed.

Request ids (`X-Request-ID`) follow one rule too: a short id of letters, digits,
`-`, `_` and `.`, else a new one is made.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import (
    BaseModel,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    ValidationInfo,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

LINE_BREAKS = frozenset("\t\n\r")
# What the JSON schema says (for clients and fuzzers); `problem` is the authority.
SINGLE_LINE_PATTERN = r"^[^\u0000-\u001f\u007f-\u009f]*$"
MULTI_LINE_PATTERN = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class InvalidInput(ValueError):
    """A value that breaks the input rule; `message` names the field and the fault."""

    def __init__(self, field: str, reason: str) -> None:
        self.field, self.reason = field, reason
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return f"{self.field}: {self.reason}"


def _character(char: str) -> str:
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" {name}" if name else "")


def problem(value: str, max_length: int | None = None, *, multiline: bool = False) -> str | None:
    """Why `value` breaks the rule (a sentence without the field's name), or None."""
    # Printable ASCII (the usual case) holds no control character: no need to look closer.
    fast = value.isascii() and value.isprintable()
    if not fast and (reason := _character_problem(value, multiline)) is not None:
        return reason
    if max_length is not None and len(value) > max_length:
        return f"is {len(value)} characters long; at most {max_length} are accepted"
    return None


def _character_problem(value: str, multiline: bool) -> str | None:
    for char in value:
        category = unicodedata.category(char)
        if category == "Cc" and not (multiline and char in LINE_BREAKS):
            allowed = " (line breaks are not allowed here)" if char in LINE_BREAKS else ""
            return f"contains a control character ({_character(char)}){allowed}; remove it"
        if category == "Cs":
            return f"contains an invalid character ({_character(char)}); remove it"
    return None


def check(field: str, value: str, max_length: int | None = None, *, multiline: bool = False) -> str:
    """`value` when it keeps the rule, else InvalidInput naming `field`."""
    if (reason := problem(value, max_length, multiline=multiline)) is not None:
        raise InvalidInput(field, reason)
    return value


def acceptable(value: str, max_length: int | None = None) -> bool:
    return problem(value, max_length) is None


def first_invalid(
    values: Iterable[tuple[str, str]],
    limits: Mapping[str, int],
    default_limit: int,
    *,
    multiline: Iterable[str] = (),
) -> InvalidInput | None:
    """The first (name, value) pair breaking the rule, with each name's own limit."""
    lines = frozenset(multiline)
    for name, value in values:
        limit = limits.get(name, default_limit)
        if (reason := problem(value, limit, multiline=name in lines)) is not None:
            return InvalidInput(name, reason)
    return None


def nested_problem(value: Any, path: str, *, multiline: bool = False) -> InvalidInput | None:
    """Control characters anywhere in decoded JSON (object keys included)."""
    if isinstance(value, str):
        reason = problem(value, multiline=multiline)
        return InvalidInput(path, reason) if reason else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = nested_problem(str(key), f"{path} (a key)") or nested_problem(
                item, f"{path}.{key}", multiline=multiline
            )
            if found:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            if found := nested_problem(item, f"{path}[{index}]", multiline=multiline):
                return found
    return None


def column_length(column: Any) -> int:
    """The length of a SQLAlchemy String column (a mapped attribute or a Column)."""
    length = getattr(column.type, "length", None)
    if not isinstance(length, int):
        raise TypeError(f"{column} has no declared length")
    return length


# -- pydantic -------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    """A string field keeping the rule: `name: Annotated[str, Text(200)]`."""

    max_length: int
    min_length: int = 0
    multiline: bool = False

    def _validate(self, value: str) -> str:
        if (reason := problem(value, multiline=self.multiline)) is not None:
            raise PydanticCustomError("control_character", reason)
        return value

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(
            self._validate,
            core_schema.str_schema(min_length=self.min_length, max_length=self.max_length),
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = MULTI_LINE_PATTERN if self.multiline else SINGLE_LINE_PATTERN
        return json_schema


class Input(BaseModel):
    """A request model whose every string, however deeply nested, keeps the rule.

    Declare each string's length with `Text`; fields named in `multiline_fields`
    may hold line breaks and tabs.
    """

    multiline_fields: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _keeps_the_rule(cls, value: Any, info: ValidationInfo) -> Any:
        name = info.field_name or "value"
        multiline = name in cls.multiline_fields
        if (found := nested_problem(value, name, multiline=multiline)) is not None:
            where = "" if found.field == name else f"{found.field.removeprefix(name)} "
            raise PydanticCustomError("control_character", where + found.reason)
        return value


# -- request ids ----------------------------------------------------------------


def safe_request_id(supplied: str | None) -> str | None:
    """A caller's request id when it is safe to echo and store, else None."""
    if supplied and REQUEST_ID.fullmatch(supplied):
        return supplied
    return None


def request_id(supplied: str | None) -> str:
    """The caller's request id when safe, else a new one."""
    return safe_request_id(supplied) or str(uuid.uuid4())
