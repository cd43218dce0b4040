"""Log lines of every service: one JSON object per line (default) or plain text.

`configure(format)` is called by each service's application factory: it puts one
handler on the root logger (writing to the process's standard error as it is at the
time of writing) with `JsonFormatter` or `TextFormatter`, and lets the services' own
loggers (`tinpass.*`, `policy.*`, `identity.*`, `provider_data.*`, `gateway.*`) speak
at INFO; other libraries stay at WARNING. Calling it again only changes the format.

A record's fields are its `extra=` values, or, for the access log
(`policy.observability`), the one mapping passed as the message's argument (cheaper:
nothing is copied into the record). An exception is written as its type and stack
without its message: messages of database errors carry the statement's parameters.
"""

from __future__ import annotations

import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

import orjson

LogFormat = Literal["json", "text"]
OWN_LOGGERS = ("tinpass", "policy", "identity", "provider_data", "gateway")
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


def fields_of(record: logging.LogRecord) -> dict[str, Any]:
    """The record's own fields: the mapping argument, else its `extra=` values."""
    if isinstance(record.args, dict):
        return record.args
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD}


def _stack(record: logging.LogRecord) -> dict[str, str]:
    if not record.exc_info or record.exc_info[0] is None:
        return {}
    kind, _, tb = record.exc_info
    return {"error": kind.__name__, "stack": "".join(traceback.format_tb(tb)).rstrip()}


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "message", ...fields}` on one line (orjson)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.msg if isinstance(record.args, dict) else record.getMessage(),
        }
        line.update(fields_of(record))
        line.update(_stack(record))
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    """`time level logger message key=value ...` for a person at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        message = record.msg if isinstance(record.args, dict) else record.getMessage()
        pairs = " ".join(f"{k}={v}" for k, v in {**fields_of(record), **_stack(record)}.items())
        return f"{stamp} {record.levelname} {record.name} {message} {pairs}".rstrip()


class _Stderr(logging.StreamHandler):
    """Writes to `sys.stderr` as it is at each line (as logging's last resort does)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure(log_format: LogFormat = "json") -> logging.Handler:
    """Install (once per process) the services' log handler in `log_format`."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, _Stderr)), None)
    if handler is None:
        handler = _Stderr()
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    for name in OWN_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)
    return handler
