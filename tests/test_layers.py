"""Layers point one way (docs/architecture.md, "Layers"): every module's imports, read
from the source with `ast` (nothing is imported or run), reach only its own part or a
part on a lower level. Parts side by side on one level never import each other. Every
module belongs to a declared part, so a new module is placed on purpose."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("policy", "identity", "provider_data", "gateway")
SOURCES = {
    "policy": ROOT / "libs/policy/policy",
    "identity": ROOT / "services/identity/identity",
    "provider_data": ROOT / "services/provider_data/provider_data",
    "gateway": ROOT / "services/gateway/gateway",
}

# Each package's levels, bottom first; a level holds one or more parts, a part some
# modules or packages (by dotted prefix).
Level = dict[str, tuple[str, ...]]
LAYERS: dict[str, list[Level]] = {
    "identity": [
        {
            "platform": (
                "action_tokens",
                "audit",
                "crypto",
                "db",
                "idempotency_records",
                "locks",
                "mail",
                "migrations",
                "models",
                "password_policy",
                "plan_roles",
                "problems",
                "security",
                "settings",
                "throttle",
            )
        },
        {"protocol storage": ("store", "keys", "backchannel_logout", "janitor")},
        {
            "protocol": ("oauth", "local_tokens"),
            "directory services": (
                "accounts",
                "admin.administrators",
                "admin.client_keys",
                "admin.clients",
                "admin.nominations",
                "admin.operator",
                "admin.operator_audit",
                "admin.operator_directory",
                "admin.profile",
                "admin.review",
                "admin.service",
                "admin_ops",
                "mfa",
                "recovery_mail",
                "registration",
                "suspensions",
                "tin_verification",
            ),
        },
        {
            "routes and pages": (
                "web",
                "deps",
                "admin.api",
                "admin.auth",
                "admin.clients_api",
                "admin.idempotency",
                "admin.openapi",
                "admin.operator_accounts",
                "admin.operator_api",
                "admin.problems",
            )
        },
        {"entry points": ("app", "cli", "cli_lists", "seed")},
    ],
    "provider_data": [
        {"platform": ("platform", "migrations")},
        {"documents": ("documents",)},
        {"reads": ("reads",)},
        {"domain": ("domain",)},
        {"api": ("api",), "data": ("data",)},
        {"entry points": ("cli",)},
    ],
    "gateway": [
        {"platform": ("settings", "problems")},
        {"upstream pools": ("upstream",)},  # the edge and the portal both call through them
        {"edge": ("apidocs", "cors", "ratelimit", "proxy"), "portal": ("portal",)},
        {"app": ("app",)},
    ],
}


def module_name(package: str, path: Path) -> str:
    parts = path.relative_to(SOURCES[package]).with_suffix("").parts
    return ".".join((package, *parts)).removesuffix(".__init__")


def modules(package: str) -> dict[str, Path]:
    return {module_name(package, p): p for p in sorted(SOURCES[package].rglob("*.py"))}


def imported(name: str, path: Path, known: dict[str, Path]) -> Iterator[str]:
    """The modules of this tree that `name` (at `path`) imports, anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in known and "." in target:
                target = target.rpartition(".")[0]
            if target in known and target != name:
                yield target


def placed(package: str, name: str) -> tuple[int, str] | None:
    """(level, part) of a module: the part whose prefix matches it longest."""
    best: tuple[int, int, str] | None = None
    relative = name.removeprefix(package + ".")
    for index, level in enumerate(LAYERS[package]):
        for part, prefixes in level.items():
            for prefix in prefixes:
                matches = relative == prefix or relative.startswith(prefix + ".")
                if matches and (best is None or len(prefix) > best[0]):
                    best = (len(prefix), index, part)
    return (best[1], best[2]) if best else None


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_every_module_has_a_place(package: str) -> None:
    known = modules(package)
    unplaced = [
        name
        for name, path in known.items()
        if placed(package, name) is None
        and not (path.name == "__init__.py" and not any(imported(name, path, known)))
    ]
    assert unplaced == [], f"declare the layer of {unplaced} in tests/test_layers.py"


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_imports_point_down(package: str) -> None:
    known = modules(package)
    wrong = []
    for name, path in known.items():
        here = placed(package, name)
        if here is None:
            continue
        for target in set(imported(name, path, known)):
            there = placed(package, target)
            if there is None:
                continue
            upward = there[0] > here[0]
            sideways = there[0] == here[0] and there[1] != here[1]
            if upward or sideways:
                wrong.append(f"{name} ({here[1]}) imports {target} ({there[1]})")
    assert not wrong, "imports against the layers:\n" + "\n".join(sorted(wrong))


def test_services_import_only_policy_and_themselves() -> None:
    everything = {name: path for package in SERVICES for name, path in modules(package).items()}
    wrong = []
    for name, path in everything.items():
        owner = name.partition(".")[0]
        for target in imported(name, path, everything):
            other = target.partition(".")[0]
            if other != owner and (owner == "policy" or other != "policy"):
                wrong.append(f"{name} imports {target}")
    assert not wrong, "imports across services:\n" + "\n".join(sorted(set(wrong)))
