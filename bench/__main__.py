"""`python -m bench`: the whole bench (bench.run) and its one table.

`python -m bench micro [bench_name ...]` runs the in-process micro-benchmarks
(bench_*.py) instead, each printing its own table (`make bench-micro`).
"""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
import sys

import bench


def micro(selected: list[str]) -> None:
    for module in pkgutil.iter_modules(bench.__path__):
        if not module.name.startswith("bench_") or (selected and module.name not in selected):
            continue
        print(f"== {module.name}")
        asyncio.run(importlib.import_module(f"bench.{module.name}").run())
        print()


def main(args: list[str]) -> int:
    if args and args[0] == "micro":
        micro(args[1:])
        return 0
    from bench import run

    return asyncio.run(run.main())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
