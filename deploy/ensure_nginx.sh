#!/usr/bin/env bash
# The replicated stack (`make run-ha`, tests/e2e/test_ha.py) puts Debian's nginx in front
# of the replicas, run unprivileged from a directory of its own (deploy/nginx.py).
# Installs the Debian package (nginx-light, else nginx) when nginx is missing and this
# machine can. Exit status 0 when nginx is available, 1 when it is not (the caller decides).
set -uo pipefail
find_nginx() { command -v nginx || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true; }
install() {
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$1" >/dev/null 2>&1
}
if [ -z "$(find_nginx)" ] && command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo -n"; fi
  echo "== installing Debian's nginx for the replicated stack (make run-ha, the HA test)"
  # Only the program is used: TINpass runs its own nginx from a generated configuration
  # on its own ports, never the package's service or /etc/nginx.
  install nginx-light || install nginx \
    || { $SUDO apt-get update -q >/dev/null 2>&1 && { install nginx-light || install nginx; }; } \
    || true
fi
found="$(find_nginx)"
if [ -n "$found" ]; then echo "nginx: $found"; exit 0; fi
echo "nginx is not installed and could not be installed here" >&2
exit 1
