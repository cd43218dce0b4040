"""policy.logs: one JSON object per line, fields from `extra=` or the access log's
mapping, exceptions by type and stack (never their message); text for a terminal."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from policy import logs


def record_with(**extra: object) -> logging.LogRecord:
    record = logging.LogRecord(
        "tinpass.test", logging.WARNING, __file__, 1, "thing.happened", (), None
    )
    record.__dict__.update(extra)
    return record


def test_json_lines_carry_the_extra_fields() -> None:
    line = logs.JsonFormatter().format(record_with(service="identity", error="OSError"))
    data = json.loads(line)
    assert "\n" not in line
    assert data == {
        **data,
        "level": "warning",
        "logger": "tinpass.test",
        "message": "thing.happened",
        "service": "identity",
        "error": "OSError",
    }
    assert data["time"].endswith("+00:00")


def test_exceptions_are_written_by_type_and_stack_only() -> None:
    member = "M" + "1000101"
    try:
        raise ValueError(f"[parameters: ({member!r},)]")
    except ValueError:
        record = record_with()
        record.exc_info = sys.exc_info()
    line = logs.JsonFormatter().format(record)
    data = json.loads(line)
    assert data["error"] == "ValueError" and "test_logs.py" in data["stack"]
    assert member not in line
    assert member not in logs.TextFormatter().format(record)


def test_text_lines_for_a_terminal() -> None:
    record = logging.LogRecord("tinpass.access", logging.INFO, "f", 1, "http.request", (), None)
    record.args = {"route": "/token", "status": 200}
    assert (
        logs.TextFormatter()
        .format(record)
        .endswith("INFO tinpass.access http.request route=/token status=200")
    )


def test_configure_installs_one_handler_and_switches_format(
    capsys: pytest.CaptureFixture[str],
) -> None:
    first = logs.configure("text")
    assert logs.configure("json") is first
    assert sum(h is first for h in logging.getLogger().handlers) == 1
    logging.getLogger("policy.test").info("thing.done", extra={"n": 1})
    (line,) = [x for x in capsys.readouterr().err.splitlines() if "thing.done" in x]
    assert json.loads(line)["n"] == 1
