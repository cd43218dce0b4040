#!/usr/bin/env bash
# The whole suite: linters, then pytest on SQLite, then pytest on PostgreSQL.
# PostgreSQL is required when CI=true or TINPASS_REQUIRE_POSTGRES=1; elsewhere a
# machine without it runs the SQLite suite and says the PostgreSQL run was not made.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY="$VENV/bin/python"
PG_URL=${TINPASS_TEST_POSTGRES_URL:-postgresql+asyncpg://postgres@127.0.0.1:5432/test}
export TINPASS_TEST_POSTGRES_URL="$PG_URL"

echo "== lint: ruff and mypy"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/mypy"

if bash deploy/ensure_chromium.sh; then
  export TINPASS_CHROMIUM="${TINPASS_CHROMIUM:-$(command -v chromium || command -v chromium-browser)}"
elif [ "${CI:-}" = "true" ] || [ "${TINPASS_REQUIRE_POSTGRES:-0}" = "1" ]; then
  echo "Browser tests are required here (CI) but chromium cannot be installed." >&2
  exit 1
else
  echo "NOTE: no chromium on this machine: the browser tests will be skipped."
fi

# The container image test (tests/deploy, marker `image`) runs in the PostgreSQL run
# where podman is or can be installed; elsewhere it is skipped.
if ! bash deploy/ensure_podman.sh; then
  echo "NOTE: no podman on this machine: the container image test will be skipped."
fi

# The replicated stack's test (tests/e2e/test_ha.py, marker `ha`) runs in the PostgreSQL run
# behind Debian's nginx; without nginx it is skipped, except in CI where it fails.
if ! bash deploy/ensure_nginx.sh; then
  echo "NOTE: no nginx on this machine: the replicas test (test_ha.py) will be skipped."
fi

require_pg=0
if [ "${CI:-}" = "true" ] || [ "${TINPASS_REQUIRE_POSTGRES:-0}" = "1" ]; then require_pg=1; fi
pg_up=0
if "$PY" deploy/pg_available.py "$PG_URL"; then pg_up=1; fi

# The browser tests (marker `browser`: modules test_*_browser.py) run once: in the
# PostgreSQL run when there is one, else in the SQLite run. What a page shows does not
# depend on the database, and every journey behind the pages is tested on both.
if [ "$pg_up" = "1" ]; then
  echo "== pytest on SQLite (the browser tests run in the PostgreSQL run)"
  TINPASS_TEST_DB=sqlite "$PY" -m pytest -m "not browser" "$@"
else
  echo "== pytest on SQLite"
  TINPASS_TEST_DB=sqlite "$PY" -m pytest "$@"
fi

if [ "$pg_up" = "1" ]; then
  echo "== pytest on PostgreSQL ($PG_URL)"
  TINPASS_TEST_DB=postgresql "$PY" -m pytest "$@"
elif [ "$require_pg" = "1" ]; then
  echo "PostgreSQL is required here (CI) but $PG_URL cannot be reached." >&2
  exit 1
else
  echo "NOTE: PostgreSQL at $PG_URL cannot be reached: the PostgreSQL run was NOT made."
fi
