"""Property-based API fuzzing of one OpenAPI document with schemathesis and Hypothesis.

For every operation of the document, Hypothesis draws requests from schemathesis's
strategies (valid data, and data that breaks the schema), each sent over real HTTP
as one of the given actors (a real token each). Every answer is checked:

- no 5xx, ever;
- every error (4xx) is an RFC 9457 problem (`application/problem+json`, a JSON object
  with `type`, `title` and `status` equal to the HTTP status) or an OAuth error
  (`{"error": ...}`).

Runs are deterministic (`derandomize`) unless a seed is given; failures are collected
(each with a curl command to replay it) rather than raised, so one run reports all.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core import NOT_SET
from schemathesis.core.result import Ok

PROBLEM_JSON = "application/problem+json"
DEFAULT_EXAMPLES = 12  # per operation and generation mode, in `make test`


def examples_per_operation() -> int:
    """Examples per operation and mode: TINPASS_FUZZ_EXAMPLES (`make fuzz`) or the default."""
    return int(os.environ.get("TINPASS_FUZZ_EXAMPLES", DEFAULT_EXAMPLES))


def fuzz_seed() -> int | None:
    value = os.environ.get("TINPASS_FUZZ_SEED")
    return int(value) if value else None


CONTROL = re.compile("[\x00-\x1f\x7f]")
LONG = 255


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def input_rule_class(case: Any) -> bool:
    """Whether the request carries what issue 10's one input rule refuses (control
    characters, over-long values): a 5xx on such a request is that rule's to prevent."""
    sent = [case.path_parameters, case.query, case.headers]
    if not isinstance(case.body, type(NOT_SET)):
        sent.append(case.body)
    # Path parameters arrive percent-encoded: look at what the server decodes.
    values = [v for s in _strings(sent) for v in (s, unquote(s))]
    return any(CONTROL.search(v) or len(v) > LONG for v in values)


@dataclass
class Failure:
    operation: str
    actor: str
    status: int
    why: str
    replay: str
    input_rule: bool = False  # a control character or an over-long value was sent

    def __str__(self) -> str:
        rule = " [input rule]" if self.input_rule else ""
        return (
            f"{self.operation} as {self.actor}: {self.status}{rule}: {self.why}\n    {self.replay}"
        )


@dataclass
class Report:
    name: str
    examples: int = 0
    operations: set[str] = field(default_factory=set)
    statuses: dict[int, int] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    def summary(self) -> str:
        return (
            f"{self.name}: {self.examples} requests over {len(self.operations)} operations "
            f"in {self.seconds:.1f} s; statuses {dict(sorted(self.statuses.items()))}; "
            f"{self.server_errors} 5xx; {len(self.failures)} failures"
        )


def error_body_problem(status: int, headers: Mapping[str, Any], content: bytes) -> str | None:
    """Why an error answer is not a problem (nor an OAuth error); None when it is."""
    kind = str(headers.get("content-type", "")).split(";")[0].strip().lower()
    try:
        body = json.loads(content)
    except ValueError:
        return f"the body is not JSON ({kind or 'no content type'}): {content[:120]!r}"
    if not isinstance(body, dict):
        return f"the body is not a JSON object: {content[:120]!r}"
    if kind == "application/json" and isinstance(body.get("error"), str):
        return None  # an OAuth error (RFC 6749 section 5.2)
    if kind != PROBLEM_JSON:
        return f"content type {kind!r}, not {PROBLEM_JSON}: {content[:120]!r}"
    missing = [k for k in ("type", "title", "status") if k not in body]
    if missing:
        return f"the problem lacks {', '.join(missing)}: {content[:120]!r}"
    if body["status"] != status:
        return f"the problem says status {body['status']!r} but the answer is {status}"
    return None


def _header(response: schemathesis.Response, name: str) -> str:
    values = response.headers.get(name) or response.headers.get(name.lower()) or []
    return values[0] if isinstance(values, list) and values else str(values or "")


def check(response: schemathesis.Response) -> str | None:
    """Why this answer breaks the rules; None when it keeps them."""
    if response.status_code >= 500:
        return f"server error: {response.content[:200]!r}"
    if response.status_code >= 400:
        headers = {"content-type": _header(response, "content-type")}
        return error_body_problem(response.status_code, headers, response.content)
    return None


@dataclass
class Target:
    """An OpenAPI document, where to send its requests, and as whom."""

    name: str
    spec: dict[str, Any]
    base_url: str
    actors: dict[str, dict[str, str]]  # actor name -> headers (a bearer token)
    known: dict[str, list[str]] = field(default_factory=dict)  # path parameter -> real values


def _strategies(operation: Any, mode: GenerationMode, known: dict[str, list[str]]) -> Any:
    """Generated requests, and (when the operation has a path parameter with real values)
    requests that reach real resources with generated bodies and queries."""
    strategies = [operation.as_strategy(generation_mode=mode)]
    names = {p.name for p in operation.path_parameters}
    hints = {name: known[name] for name in names if name in known}
    can_negate = operation.body or operation.query or names - set(hints)
    if hints and (mode is GenerationMode.POSITIVE or can_negate):
        fixed = st.fixed_dictionaries({k: st.sampled_from(v) for k, v in hints.items()})
        strategies.append(
            fixed.flatmap(lambda p: operation.as_strategy(generation_mode=mode, path_parameters=p))
        )
    return st.one_of(strategies)


def _run_operation(
    target: Target, operation: Any, mode: GenerationMode, report: Report, http: requests.Session
) -> None:
    label = f"{operation.method.upper()} {operation.path}"

    @settings(
        max_examples=examples_per_operation(),
        derandomize=fuzz_seed() is None,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(
        case=_strategies(operation, mode, target.known), actor=st.sampled_from(list(target.actors))
    )
    def run(case: Any, actor: str) -> None:
        headers = target.actors[actor]
        response = case.call(base_url=target.base_url, session=http, headers=headers, timeout=30)
        report.examples += 1
        report.statuses[response.status_code] = report.statuses.get(response.status_code, 0) + 1
        why = check(response)
        if why is not None:
            replay = case.as_curl_command(headers=headers)
            report.failures.append(
                Failure(label, actor, response.status_code, why, replay, input_rule_class(case))
            )

    if (chosen := fuzz_seed()) is not None:
        run = hypothesis_seed(chosen)(run)
    try:
        run()
    except Unsatisfiable:
        # Nothing in the operation can break the schema (no body, query or path
        # parameter to negate): there is no negative request to send.
        if mode is GenerationMode.POSITIVE:
            raise
        return
    report.operations.add(label)


def fuzz(target: Target) -> Report:
    """Fuzz every operation of the target's document, in both generation modes."""
    report = Report(target.name)
    schema = schemathesis.openapi.from_dict(target.spec, config=schemathesis.Config())
    started = time.monotonic()
    with requests.Session() as http:
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), f"{target.name}: an operation cannot be read: {result}"
            operation = result.ok()
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                _run_operation(target, operation, mode, report, http)
    report.seconds = time.monotonic() - started
    return report
