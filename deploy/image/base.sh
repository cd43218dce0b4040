#!/usr/bin/env bash
# Makes the local stand-in for python:3.11-slim-bookworm when no registry image can be pulled:
# a minimal Debian bookworm root file system (debootstrap) with python3.11, python3-venv and
# pip, imported into podman as $TINPASS_BASE_IMAGE (localhost/tinpass-base:bookworm).
# The tarball is cached in $TINPASS_IMAGE_CACHE (/var/cache/tinpass), so a second run only
# imports it (or does nothing when podman already has the image).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/deploy/image/containers.conf}"
BASE_IMAGE="${TINPASS_BASE_IMAGE:-localhost/tinpass-base:bookworm}"
CACHE="${TINPASS_IMAGE_CACHE:-/var/cache/tinpass}"
TARBALL="$CACHE/debian-bookworm-python3.11.tar"
PACKAGES="python3.11,python3-venv,python3-pip,ca-certificates"

if [ "${1:-}" != "--force" ] && podman image exists "$BASE_IMAGE"; then
  echo "base image: $BASE_IMAGE (present)"
  exit 0
fi

# The Debian mirror this machine's apt uses (deb822 or one-line sources), else Debian's own.
mirror() {
  local found
  found=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | awk '/^URIs:/ {print $2}' | grep -E '/debian/?$' | head -n1 || true)
  if [ -z "$found" ]; then
    found=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
      | awk '$1 == "deb" && $3 ~ /^bookworm$/ {print $2}' | grep -E '/debian/?$' | head -n1 || true)
  fi
  echo "${found:-http://deb.debian.org/debian}"
}

if [ "${1:-}" = "--force" ] || [ ! -s "$TARBALL" ]; then
  command -v debootstrap >/dev/null || PATH="$PATH:/usr/sbin"
  mkdir -p "$CACHE"
  root=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  trap 'rm -rf "$root"' EXIT
  echo "== debootstrap bookworm ($(mirror)) into $root"
  debootstrap --variant=minbase --include="$PACKAGES" bookworm "$root" "$(mirror)" \
    > "$CACHE/debootstrap.log" 2>&1 || { tail -n 30 "$CACHE/debootstrap.log" >&2; exit 1; }
  # What python:3.11-slim-bookworm also leaves out: apt's lists and caches, docs.
  chroot "$root" apt-get clean
  rm -rf "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/* \
    "$root"/var/cache/debconf/*-old "$root"/var/log/*.log
  tar --numeric-owner -C "$root" -cf "$TARBALL.partial" .
  mv "$TARBALL.partial" "$TARBALL"
fi

echo "== podman import $TARBALL as $BASE_IMAGE"
podman import \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["python3"]' \
  "$TARBALL" "$BASE_IMAGE" >/dev/null
echo "base image: $BASE_IMAGE"
