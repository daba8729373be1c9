#!/usr/bin/env bash
# The store across machines, on a PostgreSQL server this script starts
# (scripts/pg-test-server.sh: a Unix socket on this machine, fsync off):
#   (1) WRITERS (8) concurrent writers, each a shard of one run group with
#       its own connection, TESTS (1000) tests x SUBTESTS (20) subtests each,
#       one transaction per attempt, into PostgreSQL; against one writer of
#       all those tests into SQLite: results per second, nothing lost, ratio;
#   (2) vigil flakes over RUNS (30) runs x FTESTS (2000) tests (bench/
#       serve_store's history) in SQLite and, copied there by vigil migrate,
#       in PostgreSQL: the time of each (median of 3) and of the copy;
#   (3) with HISTORY=DB (a store holding a real run, e.g. the MPTCP suite of
#       bench/kbuild.sh RUN_SUITE=1): the split of its plan into 2, 3, 4, 6
#       and 8 shards, longest shard / mean shard against the lower bound.
#   bench/store.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
B=$(realpath "${1:-build}")
W=$(mktemp -d /var/tmp/vigil-store-bench.XXXXXX)
PGDIR=/tmp/vigil-store-bench-pg-$$
trap 'bash scripts/pg-test-server.sh stop "$PGDIR" > /dev/null 2>&1 || true; rm -rf "$W"' EXIT
PG=$(bash scripts/pg-test-server.sh start "$PGDIR")
WRITERS=${WRITERS:-8} TESTS=${TESTS:-1000} SUBTESTS=${SUBTESTS:-20}
RUNS=${RUNS:-30} FTESTS=${FTESTS:-2000}

echo "(1) writers"
pg=$("$B/store_writers" "$PG" "$WRITERS" "$TESTS" "$SUBTESTS")
echo "  postgresql: $pg"
sq=$("$B/store_writers" "$W/writers.db" 1 $((WRITERS * TESTS)) "$SUBTESTS")
echo "  sqlite:     $sq"
rate() { sed -E 's/.* ([0-9]+) tests\/s.*/\1/' <<< "$1"; }
python3 -c "import sys; print('  tests/s: postgresql with %s writers / sqlite with one: %.2fx' % (sys.argv[3], float(sys.argv[1]) / float(sys.argv[2])))" \
  "$(rate "$pg")" "$(rate "$sq")" "$WRITERS"

echo "(2) vigil flakes over $RUNS runs x $FTESTS tests"
"$B/serve_store" "$W/flakes.db" "$RUNS" "$FTESTS" "$SUBTESTS" 2> /dev/null
psql -q "$PG" -c "CREATE SCHEMA flakes" > /dev/null
FPG="$PG&options=-csearch_path%3Dflakes"
t0=$(date +%s.%N)
"$B/vigil" migrate --from "$W/flakes.db" --to "$FPG" | tail -n 1
t1=$(date +%s.%N)
python3 -c "import sys; print('  vigil migrate: %.1f s' % (float(sys.argv[2]) - float(sys.argv[1])))" "$t0" "$t1"
time_flakes() {  # DB: the median of 3 runs of vigil flakes, seconds
  local v=() i t0 t1
  for i in 1 2 3; do
    t0=$(date +%s.%N)
    "$B/vigil" flakes --db "$1" --json > "$W/flakes-$i.json"
    t1=$(date +%s.%N)
    v+=("$(python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$t0" "$t1")")
  done
  python3 -c "import statistics, sys; print('%.2f' % statistics.median(map(float, sys.argv[1:])))" "${v[@]}"
}
fs=$(time_flakes "$W/flakes.db")
cp "$W/flakes-1.json" "$W/flakes-sqlite.json"
fp=$(time_flakes "$FPG")
echo "  sqlite: ${fs} s; postgresql: ${fp} s ($(python3 -c "import sys; print('%.2fx' % (float(sys.argv[1]) / float(sys.argv[2])))" "$fp" "$fs"))"
cmp -s "$W/flakes-sqlite.json" "$W/flakes-1.json" && echo "  the same flakes JSON from both" || echo "  the flakes JSON DIFFERS"

if [ -n "${HISTORY:-}" ]; then
  echo "(3) shard balance over $HISTORY"
  "$B/shard_split" "$HISTORY" 2 3 4 6 8 | sed 's/^/  /'
fi
