"""Build TINpass's container image with podman, tagged by a digest of what goes into it.

`python -m deploy.image_build` (`make image`) prints the tag of an image built from the
working tree, building it only when no image of that digest exists: the Containerfile,
the files its context keeps (.containerignore), and the base image's id make the digest.
The base is TINPASS_BASE_IMAGE: python:3.11-slim-bookworm where a registry can be
reached, or the local Debian bookworm of deploy/image/base.sh (the default here, since
this machine pulls no images; base.sh makes it when it is missing).

Podman reads deploy/image/containers.conf (CONTAINERS_CONF) unless one is set: runc as
the runtime and no default rlimits, which this machine's sandbox refuses.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCAL_BASE = "localhost/tinpass-base:bookworm"
REGISTRY_BASE = "docker.io/library/python:3.11-slim-bookworm"
REPOSITORY = "localhost/tinpass"
# What the Containerfile copies (and .containerignore keeps): the digest covers these.
INPUTS = (
    "Containerfile",
    ".containerignore",
    "constraints.txt",
    "deploy/image/entrypoint.sh",
    "deploy/image/requirements.py",
    "libs/policy",
    "services",
)
SKIPPED_PARTS = {"__pycache__", "samples"}
SKIPPED_SUFFIXES = (".pyc", ".egg-info")
KEEP_IMAGES = 3  # digest-tagged images kept; older ones are removed after a build
CA_MOUNT = "/run/tinpass-build/ca.crt"


def podman_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("CONTAINERS_CONF", str(ROOT / "deploy" / "image" / "containers.conf"))
    return env


def podman(*args: str, check: bool = True, capture: bool = True) -> str:
    """Run `podman ARGS` with the project's configuration; its standard output."""
    done = subprocess.run(
        ["podman", *args],
        env=podman_env(),
        check=False,
        text=True,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.PIPE if capture else None,
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args)} failed:\n{done.stderr or ''}")
    return done.stdout or ""


def image_exists(name: str) -> bool:
    done = subprocess.run(["podman", "image", "exists", name], env=podman_env(), check=False)
    return done.returncode == 0


def _input_files() -> Iterator[Path]:
    for name in INPUTS:
        path = ROOT / name
        candidates = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in candidates:
            relative = file.relative_to(ROOT)
            if not file.is_file() or SKIPPED_PARTS & set(relative.parts):
                continue
            if any(part.endswith(SKIPPED_SUFFIXES) for part in relative.parts):
                continue
            yield file


def inputs_digest(base_id: str) -> str:
    """A digest of the base image's id and every file the build reads (names and bytes)."""
    digest = hashlib.sha256(base_id.encode())
    for file in _input_files():
        digest.update(str(file.relative_to(ROOT)).encode() + b"\0")
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()[:16]


def ensure_base(base_image: str) -> str:
    """The base image's id; the local base is made (deploy/image/base.sh), any other
    pulled, when missing."""
    if not image_exists(base_image):
        if base_image == LOCAL_BASE:
            script = ROOT / "deploy" / "image" / "base.sh"
            subprocess.run(["bash", str(script)], env=podman_env(), check=True)
        else:
            podman("pull", base_image, capture=False)
    return podman("image", "inspect", "--format", "{{.Id}}", base_image).strip()


def pip_ca_bundle() -> Path | None:
    """The CA bundle this machine's pip trusts when it is not the default one (a TLS-
    intercepting proxy's CA): mounted into the build so pip there trusts it too."""
    configured = os.environ.get("PIP_CERT")
    if not configured:
        listing = subprocess.run(
            [sys.executable, "-m", "pip", "config", "list"],
            check=False,
            text=True,
            capture_output=True,
        ).stdout
        for line in listing.splitlines():
            key, _, value = line.partition("=")
            if key.strip().endswith(".cert"):
                configured = value.strip().strip("'\"")
    path = Path(configured) if configured else None
    return path if path and path.is_file() else None


def build(base_image: str, tag: str) -> None:
    args = [
        "build",
        "--format",
        "docker",  # the OCI format drops HEALTHCHECK
        "--network",
        "host",
        "--layers",
        "--build-arg",
        f"BASE_IMAGE={base_image}",
        "--tag",
        tag,
        "--tag",
        f"{REPOSITORY}:latest",
    ]
    ca = pip_ca_bundle()
    if ca is not None:
        args += ["--volume", f"{ca}:{CA_MOUNT}:ro", "--build-arg", f"PIP_CA_BUNDLE={CA_MOUNT}"]
    podman(*args, "--file", str(ROOT / "Containerfile"), str(ROOT), capture=False)


def remove_old_images(keep: str) -> None:
    """Digest-tagged images beyond the KEEP_IMAGES newest go (an image in use stays)."""
    listing = podman(
        "images", "--format", "{{.Repository}}:{{.Tag}} {{.CreatedAt}}", REPOSITORY
    ).splitlines()
    tagged = [line.split(" ", 1) for line in listing if " " in line]
    names = [
        name
        for name, _ in sorted(tagged, key=lambda item: item[1], reverse=True)
        if not name.endswith((":latest", ":<none>")) and name != keep
    ]
    for name in names[KEEP_IMAGES - 1 :]:
        podman("rmi", name, check=False)


def ensure_image(base_image: str | None = None) -> str:
    """The tag of an image of the working tree on `base_image`, built when missing."""
    base = base_image or os.environ.get("TINPASS_BASE_IMAGE", LOCAL_BASE)
    tag = f"{REPOSITORY}:{inputs_digest(ensure_base(base))}"
    if not image_exists(tag):
        build(base, tag)
        remove_old_images(keep=tag)
    return tag


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.image_build", description=__doc__)
    parser.add_argument(
        "--base",
        help=f"the base image (default: TINPASS_BASE_IMAGE or {LOCAL_BASE}; "
        f"with a registry: {REGISTRY_BASE})",
    )
    args = parser.parse_args(argv)
    print(ensure_image(args.base))
    return 0


if __name__ == "__main__":
    sys.exit(main())
