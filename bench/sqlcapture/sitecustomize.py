"""Loaded by every Python process started with this directory on PYTHONPATH: when
BENCH_SQL_LOG names a file, each SQL statement any SQLAlchemy engine sends (with its
parameters) is appended to it as a JSON line, for bench.explain to EXPLAIN.

Only the bench's short capture runs set it (a few requests, never a measured run):
the services' code is not changed to be looked at.
"""

from __future__ import annotations

import json
import os
from typing import Any

LOG = os.environ.get("BENCH_SQL_LOG")

if LOG:
    path = LOG
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    def _record(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool
    ) -> None:
        params = (parameters[0] if parameters else None) if many else parameters  # one set
        line = json.dumps({"sql": statement, "params": params}, default=str)
        with open(path, "a") as out:  # capture runs only: a line per statement
            out.write(line + "\n")

    event.listen(Engine, "before_cursor_execute", _record)
