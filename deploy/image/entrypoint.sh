#!/bin/sh
# The TINpass image's entry point: one image for every service, chosen by the command.
#   identity | eligibility | claims | gateway [uvicorn options]   serve it on $HOST:$PORT
#   migrate identity | migrate plan                               bring a schema up to date
#   identity COMMAND ...        the identity operator CLI (identity create-user, rotate-keys, ...)
#   provider-data COMMAND ...   a plan's CLI (seed-demo, load-csv, claims review, audit, ...)
#   help                        this text;  anything else is run as it is (python, sh, ...)
# uvicorn reads WEB_CONCURRENCY for its worker count; forwarded headers are believed only
# from the services' *_TRUSTED_PROXIES (policy.forwarded), never by uvicorn itself; no
# access log (its lines would carry authorization codes): `--access-log` turns it on.
set -eu

usage() {
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
}

serve() {
  factory=$1
  shift
  # Every worker writes its metrics here and /metrics of any worker reports them all
  # (prometheus-client's multiprocess mode); emptied at each start (docs/observability.md).
  PROMETHEUS_MULTIPROC_DIR=${PROMETHEUS_MULTIPROC_DIR:-/tmp/tinpass-metrics}
  rm -rf "$PROMETHEUS_MULTIPROC_DIR"
  mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
  export PROMETHEUS_MULTIPROC_DIR
  exec uvicorn --factory "$factory" --host "${HOST:-0.0.0.0}" --port "${PORT:-8000}" \
    --no-proxy-headers --no-access-log "$@"
}

command=${1:-help}
[ $# -gt 0 ] && shift
case "$command" in
  identity)
    # `identity` alone (or with uvicorn options) serves; `identity COMMAND` (or --help)
    # is the operator CLI.
    case "${1:--}" in
      -h | --help | [!-]*) exec identity "$@" ;;
    esac
    serve identity.app:create_app "$@" ;;
  eligibility) serve provider_data.api.eligibility:create_app "$@" ;;
  claims) serve provider_data.api.claims:create_app "$@" ;;
  gateway) serve gateway.app:create_app "$@" ;;
  migrate)
    case "${1:-}" in
      identity) exec identity migrate ;;
      plan | eligibility | claims | provider-data) exec provider-data migrate ;;
      *) echo "usage: migrate identity|plan" >&2; exit 2 ;;
    esac ;;
  help | --help | -h) usage ;;
  *) exec "$command" "$@" ;;
esac
