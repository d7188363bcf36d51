#!/usr/bin/env bash
# Run a command with a throwaway PostgreSQL on 127.0.0.1 (LAB.md section 7); its DSN is passed
# to the tests as INGOT_TEST_PG_URL. Without PostgreSQL installed, the command runs without it
# (the PostgreSQL tests then skip and say why).
set -uo pipefail
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$PGBIN" ] || [ "$(id -u)" != 0 ]; then
  echo "with-postgres: PostgreSQL server not available; running without it" >&2
  exec "$@"
fi
PGLAB=$(mktemp -d /tmp/ingot-pg.XXXXXX)
# A port nobody listens on (two runs at once must not share one server: one's exit would stop
# the other's database).
PORT=${INGOT_TEST_PG_PORT:-}
if [ -z "$PORT" ]; then
  for candidate in $(seq 55432 55531); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then PORT=$candidate; break; fi
  done
fi
chown postgres "$PGLAB"
stop() { runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGLAB/data" -m immediate stop >/dev/null 2>&1; rm -rf "$PGLAB"; }
trap stop EXIT
runuser -u postgres -- "$PGBIN/initdb" -A trust --no-sync -D "$PGLAB/data" >/dev/null
if ! runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGLAB/data" -w -l "$PGLAB/log" \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -k $PGLAB -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null; then
  echo "with-postgres: PostgreSQL did not start on 127.0.0.1:$PORT:" >&2
  cat "$PGLAB/log" >&2
  exit 1
fi
runuser -u postgres -- createdb -h 127.0.0.1 -p "$PORT" ingot_test
export INGOT_TEST_PG_URL="postgresql+psycopg://postgres@127.0.0.1:$PORT/ingot_test"
"$@"
