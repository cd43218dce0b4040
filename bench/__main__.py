"""Run every benchmark module (bench_*.py) and print its table."""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
import sys

import bench


def main(selected: list[str]) -> None:
    for module in pkgutil.iter_modules(bench.__path__):
        if not module.name.startswith("bench_") or (selected and module.name not in selected):
            continue
        print(f"== {module.name}")
        asyncio.run(importlib.import_module(f"bench.{module.name}").run())
        print()


if __name__ == "__main__":
    main(sys.argv[1:])
