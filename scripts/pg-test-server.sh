#!/usr/bin/env bash
# Start (or stop) a throw-away PostgreSQL server on 127.0.0.1 for the test suite.
#   scripts/pg-test-server.sh start   -> prints the SQLAlchemy URL to use as SENTINEL_TEST_PG_URL
#   scripts/pg-test-server.sh stop
# The cluster lives in a private temporary directory and listens on loopback only.
set -euo pipefail
PGPORT="${SENTINEL_TEST_PG_PORT:-55432}"
PGDIR="${SENTINEL_TEST_PG_DIR:-/tmp/sentinel-pg-test}"
bindir=""
for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && bindir="$d"; done
[ -n "$bindir" ] || { echo "error: PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }

as_pg() {
  # initdb refuses to run as root: run the server as the 'postgres' system user when we are root
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-start}" in
  start)
    if [ ! -s "$PGDIR/data/PG_VERSION" ]; then
      rm -rf "$PGDIR"; mkdir -p "$PGDIR"; chmod 700 "$PGDIR"
      [ "$(id -u)" = 0 ] && chown postgres: "$PGDIR"
      as_pg "$bindir/initdb" -D "$PGDIR/data" -U postgres --auth=trust -E UTF8 >/dev/null
    fi
    if ! as_pg "$bindir/pg_ctl" -D "$PGDIR/data" status >/dev/null 2>&1; then
      as_pg "$bindir/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $PGDIR -c fsync=off" start >/dev/null
    fi
    as_pg "$bindir/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -tAc "select 1 from pg_database where datname='sentinel_test'" | grep -q 1 \
      || as_pg "$bindir/createdb" -h 127.0.0.1 -p "$PGPORT" -U postgres sentinel_test
    echo "postgresql+psycopg://postgres@127.0.0.1:$PGPORT/sentinel_test"
    ;;
  stop)
    as_pg "$bindir/pg_ctl" -D "$PGDIR/data" -m fast stop >/dev/null 2>&1 || true
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
