#!/usr/bin/env bash
# The image tests build and run the container image with podman (runc as the runtime) and
# make their base with debootstrap: installs these Debian packages when one is missing and
# this machine can. Exit status 0 when all three are available, 1 when not (the caller decides).
set -uo pipefail
missing() {
  for tool in podman runc debootstrap; do
    command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || echo "$tool"
  done
}
if [ -n "$(missing)" ] && command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo -n"; fi
  echo "== installing Debian's podman, runc and debootstrap for the image tests"
  packages=(podman runc debootstrap uidmap)
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${packages[@]}" >/dev/null 2>&1 \
    || { $SUDO apt-get update -q >/dev/null 2>&1 \
         && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${packages[@]}" \
              >/dev/null 2>&1; } \
    || true
fi
if [ -z "$(missing)" ]; then echo "podman: $(command -v podman)"; exit 0; fi
echo "podman, runc or debootstrap is not installed and could not be installed here:" \
  "$(missing | tr '\n' ' ')" >&2
exit 1
