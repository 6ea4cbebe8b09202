#!/usr/bin/env bash
# Run the whole test suite: set-up (as bootstrap.sh), a throw-away PostgreSQL on loopback, then pytest.
#   bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh --setup
if [ -z "${SENTINEL_TEST_PG_URL:-}" ]; then
  SENTINEL_TEST_PG_URL="$(bash scripts/pg-test-server.sh start)"
  export SENTINEL_TEST_PG_URL
  trap 'bash scripts/pg-test-server.sh stop' EXIT
fi
.venv/bin/python -m pytest -q "$@"
