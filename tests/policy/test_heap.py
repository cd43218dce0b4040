"""`policy.heap.freeze_startup_heap`: once per process, never in the test environment.

Run in a child process: freezing this one would keep the test run's garbage forever."""

from __future__ import annotations

import subprocess
import sys

CHILD = """
import gc
from policy.heap import freeze_startup_heap
assert not freeze_startup_heap("test") and gc.get_freeze_count() == 0
assert freeze_startup_heap("production") and gc.get_freeze_count() > 1000
assert not freeze_startup_heap("production")
print("ok")
"""


def test_freezes_once_and_never_in_tests() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
