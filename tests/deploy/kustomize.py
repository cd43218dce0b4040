"""A small kustomize for the tests: the few features deploy/k8s uses, applied as kustomize
applies them, so the overlays can be rendered and checked offline.

`kubectl kustomize` (and `kubectl apply -k`) is the real renderer. This one knows
`resources` (files and directories), `patches` (RFC 6902 JSON patches with a target of
kind and name, the name a regular expression), `namespace`, `labels` (pairs on the
objects' own labels), `replicas` and `images`, in kustomize's order (patches, namespace,
labels, replicas, images). It refuses every other field, and a patch, replica count or
image that applies to nothing, so an overlay cannot rely on something it ignores.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonpatch
import yaml

Resource = dict[str, Any]

FIELDS = {"apiVersion", "kind", "resources", "namespace", "labels", "replicas", "images", "patches"}
CLUSTER_SCOPED = {"Namespace"}  # the only cluster-scoped kind deploy/k8s has
SCALABLE = {"Deployment", "StatefulSet", "ReplicaSet"}


class KustomizeError(ValueError):
    """A kustomization this renderer cannot render as kustomize would."""


def load_documents(path: Path) -> list[Resource]:
    """Every object of a YAML file (empty documents dropped)."""
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def render(directory: Path) -> list[Resource]:
    """The objects of the kustomization in `directory`, transformed."""
    spec = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(spec) - FIELDS
    if unknown:
        raise KustomizeError(f"{directory}: unsupported kustomization fields {sorted(unknown)}")
    resources: list[Resource] = []
    for entry in spec.get("resources", []):
        path = directory / entry
        resources += render(path) if path.is_dir() else load_documents(path)
    _check_unique(resources, directory)
    for patch in spec.get("patches", []):
        _patch(resources, patch)
    if "namespace" in spec:
        for resource in resources:
            if resource["kind"] not in CLUSTER_SCOPED:
                resource["metadata"]["namespace"] = spec["namespace"]
    for label in spec.get("labels", []):
        _label(resources, label)
    for replica in spec.get("replicas", []):
        _replicas(resources, replica)
    for image in spec.get("images", []):
        _image(resources, image)
    return resources


def _check_unique(resources: list[Resource], directory: Path) -> None:
    seen: set[tuple[str, str]] = set()
    for resource in resources:
        key = (resource["kind"], resource["metadata"]["name"])
        if key in seen:
            raise KustomizeError(f"{directory}: {key} is defined twice")
        seen.add(key)


def _patch(resources: list[Resource], patch: dict[str, Any]) -> None:
    target = patch.get("target", {})
    if set(patch) != {"target", "patch"} or set(target) - {"kind", "name"}:
        raise KustomizeError(f"only inline JSON patches with a kind/name target: {patch}")
    operations = yaml.safe_load(patch["patch"])
    if not isinstance(operations, list):
        raise KustomizeError(f"not an RFC 6902 patch (strategic merge is unsupported): {patch}")
    matched = [r for r in resources if _matches(r, target)]
    if not matched:
        raise KustomizeError(f"patch target matches nothing: {target}")
    for resource in matched:
        patched = jsonpatch.apply_patch(resource, operations)  # a `test` op raises on mismatch
        resource.clear()
        resource.update(patched)


def _matches(resource: Resource, target: dict[str, str]) -> bool:
    if "kind" in target and resource["kind"] != target["kind"]:
        return False
    name = target.get("name")
    return name is None or re.fullmatch(name, resource["metadata"]["name"]) is not None


def _label(resources: list[Resource], label: dict[str, Any]) -> None:
    if set(label) != {"pairs"}:
        raise KustomizeError(f"only labels' pairs (no selectors or templates): {label}")
    for resource in resources:
        resource["metadata"].setdefault("labels", {}).update(label["pairs"])


def _replicas(resources: list[Resource], replica: dict[str, Any]) -> None:
    matched = [
        r for r in resources if r["kind"] in SCALABLE and r["metadata"]["name"] == replica["name"]
    ]
    if not matched:
        raise KustomizeError(f"replicas: no workload named {replica['name']}")
    for resource in matched:
        resource["spec"]["replicas"] = replica["count"]


def _containers(node: Any) -> Iterator[dict[str, Any]]:
    """Every container and init container anywhere in an object."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                yield from value
            else:
                yield from _containers(value)
    elif isinstance(node, list):
        for item in node:
            yield from _containers(item)


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """name, tag, digest of an image reference (`registry:5000/name:tag@sha256:...`)."""
    image, _, digest = image.partition("@")
    name, colon, tag = image.rpartition(":")
    if not colon or "/" in tag:
        return image, None, digest or None
    return name, tag, digest or None


def _image(resources: list[Resource], image: dict[str, str]) -> None:
    if set(image) - {"name", "newName", "newTag", "digest"}:
        raise KustomizeError(f"unsupported image fields: {image}")
    found = False
    for container in (c for r in resources for c in _containers(r)):
        name, tag, digest = split_image(container["image"])
        if name != image["name"]:
            continue
        found = True
        name = image.get("newName", name)
        tag = image.get("newTag", tag)
        digest = image.get("digest", digest)
        container["image"] = name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    if not found:
        raise KustomizeError(f"images: no container uses {image['name']}")
