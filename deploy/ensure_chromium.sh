#!/usr/bin/env bash
# Browser tests drive Debian's chromium through Playwright (it cannot download its own).
# Installs the Debian package when it is missing and this machine can; prints where it is.
# Exit status 0 when chromium is available, 1 when it is not (the caller decides).
set -uo pipefail
find_chromium() { command -v chromium || command -v chromium-browser || true; }
if [ -z "$(find_chromium)" ] && command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo -n"; fi
  echo "== installing Debian's chromium for the browser tests"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 \
    || { $SUDO apt-get update -q >/dev/null 2>&1 \
         && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1; } \
    || true
fi
found="$(find_chromium)"
if [ -n "$found" ]; then echo "chromium: $found"; exit 0; fi
echo "chromium is not installed and could not be installed here" >&2
exit 1
