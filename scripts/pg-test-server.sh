#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests, in DIR: initdb as the
# postgres user (Debian's package makes it; initdb refuses root), trust
# authentication, no TCP port: only a Unix socket in DIR, so nothing outside
# this machine can reach it. fsync is off (the tests' data need not survive
# a power cut).
#   scripts/pg-test-server.sh start DIR   prints the URI of its database "vigil"
#   scripts/pg-test-server.sh stop DIR    stops it and removes DIR
# Exit 77 (a skip to the tests) when PostgreSQL is not installed.
set -euo pipefail
cmd=${1:?start or stop}
dir=${2:?directory}
bin=$(ls -d /usr/lib/postgresql/*/bin 2> /dev/null | sort -V | tail -n 1)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "pg-test-server: PostgreSQL is not installed (scripts/install-deps.sh installs it)" >&2
  exit 77
fi
as_owner() {
  if [ "$(id -u)" = 0 ]; then setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; else "$@"; fi
}
case $cmd in
  start)
    if [ -f "$dir/data/postmaster.pid" ]; then as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate stop > /dev/null 2>&1 || true; fi
    rm -rf "$dir"
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -A trust -U vigil -E UTF8 --locale=C --no-sync > "$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-k $dir -c listen_addresses= -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      start > /dev/null || { cat "$dir/server.log" >&2; exit 1; }
    as_owner "$bin/createdb" -h "$dir" -U vigil vigil
    echo "postgresql:///vigil?host=$dir&user=vigil"
    ;;
  stop)
    [ -d "$dir/data" ] || exit 0
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast stop > /dev/null
    rm -rf "$dir"
    ;;
  *)
    echo "pg-test-server: start or stop, not $cmd" >&2
    exit 2
    ;;
esac
