"""Print the third-party requirements of TINpass's four packages, one a line.

The image's builder installs these (pinned by constraints.txt) in a layer of its own
before it copies the source, so a change of code rebuilds only the last, small layer.
Run with the pyproject.toml files as arguments.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

OWN = ("tinpass-",)


def requirements(pyprojects: list[Path]) -> list[str]:
    found: dict[str, None] = {}
    for path in pyprojects:
        project = tomllib.loads(path.read_text())["project"]
        for requirement in project.get("dependencies", []):
            if not requirement.lower().startswith(OWN):
                found[requirement] = None
    return sorted(found, key=str.lower)


if __name__ == "__main__":
    print("\n".join(requirements([Path(arg) for arg in sys.argv[1:]])))
