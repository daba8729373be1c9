#!/usr/bin/env bash
# The dashboard's speed on a synthetic store of RUNS runs x TESTS tests x
# SUBTESTS subtests (2000 x 200 x 20 by default: 400k attempts, 8M subtests),
# written through the store's own write API (bench/serve_store.cc; kept in
# /var/tmp/vigil-serve-bench/ between invocations):
#   (1) every page's server time (the Server-Timing header vigil serve sets:
#       store reads and rendering), p50 and p95 over a sample of each page
#       (different runs and tests: each read from the store; "again": the
#       same page while the store is unchanged); target p95 < 100 ms;
#   (2) requests per second on a run page and a history matrix with wrk
#       (2 threads, 8 connections, 10 s) on loopback;
#   (3) the floor: sqlite3 answering each page's main query alone, and the
#       page's p50 against it.
#   bench/serve.sh [BUILD_DIR] [RUNS] [TESTS] [SUBTESTS]
# The build directory needs serve_store (cmake -DVIGIL_BENCH=ON, the default
# outside `make check`).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
RUNS=${2:-2000}
TESTS=${3:-200}
SUBS=${4:-20}
VIGIL=$(realpath "$BUILD/vigil")
GEN=$(realpath "$BUILD/serve_store")
command -v wrk > /dev/null || { echo "wrk missing (scripts/install-deps.sh)" >&2; exit 2; }
D=/var/tmp/vigil-serve-bench
mkdir -p "$D"
DB="$D/store-$RUNS-$TESTS-$SUBS.db"
if [ ! -f "$DB.done" ]; then
  rm -f "$DB" "$DB-wal" "$DB-shm"
  t0=$(date +%s)
  "$GEN" "$DB" "$RUNS" "$TESTS" "$SUBS" 2> /dev/null
  echo "store written in $(( $(date +%s) - t0 )) s: $(du -h "$DB" | cut -f1)"
  touch "$DB.done"
fi
# A store written by an older vigil: a command that opens it to write (vigil
# flakes) migrates it; vigil serve only reads.
v0=$(sqlite3 "$DB" 'SELECT version FROM schema_version')
t0=$(date +%s.%N)
"$VIGIL" flakes --db "$DB" > /dev/null
v1=$(sqlite3 "$DB" 'SELECT version FROM schema_version')
if [ "$v0" != "$v1" ]; then
  echo "store migrated from schema $v0 to $v1 in $(python3 -c "print('%.1f' % ($(date +%s.%N) - $t0))") s"
fi
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$VIGIL" serve --db "$DB" --listen "127.0.0.1:$PORT" 2> "$D/serve.err" &
SERVE=$!
trap 'kill $SERVE 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/static/vigil.css" && break; sleep 0.1; done
URL="http://127.0.0.1:$PORT"
echo "store: $RUNS runs x $TESTS tests x $SUBS subtests ($(du -h "$DB" | cut -f1)); vigil serve on $(nproc) cores"

# (1) server time per page, from a sample of each.
python3 - "$URL" "$RUNS" "$TESTS" "$SUBS" "$DB" <<'PY' | tee "$D/pages.txt"
import random, statistics, subprocess, sys, urllib.parse, urllib.request
url, runs, tests, subs, db = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
random.seed(1)
def test(t): return "net/coll%d:test_%03d.sh" % (t % 8, t)
q = urllib.parse.quote
pages = {
  "runs list": ["/"] + ["/runs?page=%d" % random.randint(1, runs // 50) for _ in range(19)],
  "runs list, filtered": ["/runs?env=vm", "/runs?env=host", "/runs?status=FAIL", "/runs?origin=manual"] * 5,
  "run": ["/runs/%d" % random.randint(1, runs) for _ in range(30)],
  "history matrix": ["/tests?path=" + q(test(random.randrange(tests)), safe="") for _ in range(30)],
  "subtest history": ["/tests?path=" + q(test(random.randrange(tests)) + ":subtest %02d of %d" % (0, 0), safe="") for _ in range(0)] +
                     ["/tests?path=" + q("%s:subtest %02d of %d" % (test(t), random.randrange(subs), t), safe="")
                      for t in [random.randrange(tests) for _ in range(20)]],
  # The first request reads the store; the same page again, until the store
  # changes, is the data kept from it.
  # "first": the store changes (by another process: a run's owner set and
  # set back, two commits) before each request, so none is served from kept
  # data.
  # The first of each worker thread (vigil serve --threads, 4) after the
  # server started is slower: it faults in the memory its series take, which
  # the worker keeps for the next requests. Measured apart, then 20 more.
  "flakes, warm-up": ["/flakes"] * 8,
  "flakes, first": ["/flakes"] * 20,
  "flakes, again": ["/flakes"] * 10,
  "crashes, first": ["/crashes"] * 5,
  "run, again": ["/runs/%d" % (runs // 2)] * 10,
  "compare": ["/compare?a=%d&b=%d" % (r - 2, r) for r in [random.randint(3, runs) for _ in range(20)]],
  "run (API)": ["/api/v1/runs/%d" % random.randint(1, runs) for _ in range(20)],
}
print("%-22s %9s %9s %9s  (ms, server time)" % ("page", "p50", "p95", "max"))
for name, paths in pages.items():
    times = []
    for p in paths:
        if name.endswith(", first") or name.endswith(", warm-up"):
            subprocess.run(["sqlite3", db, "UPDATE runs SET owner = 'vigil-bench' WHERE id = 1; "
                            "UPDATE runs SET owner = '' WHERE id = 1"], check=True)
        r = urllib.request.urlopen(url + p)
        r.read()
        st = r.headers["Server-Timing"]
        times.append(float(st.split("dur=")[1]))
    times.sort()
    p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
    print("%-22s %9.1f %9.1f %9.1f  (%d requests)" % (name, statistics.median(times), p95, times[-1], len(times)))
PY

# (2) throughput.
for p in "/runs/$((RUNS / 2))" "/tests?path=net%2Fcoll7%3Atest_007.sh"; do
  rps=$(wrk -t2 -c8 -d10s "$URL$p" | awk '/Requests\/sec/ {print $2}')
  echo "wrk $p: $rps requests/s"
done

# (3) the floor: each page's main query in sqlite3 alone.
floor() {  # NAME SQL
  local s
  s=$( { echo ".timer on"; echo "$2"; } | sqlite3 "$DB" 2>&1 | awk '/Run Time/ {print $4}' | tail -n 1)
  echo "sqlite3 floor, $1: $(python3 -c "print('%.1f' % ($s * 1000))") ms"
}
mid=$((RUNS / 2))
floor "runs list (attempts of 50 runs)" \
  "SELECT count(*) FROM tests t JOIN attempts a ON a.test_id = t.id WHERE t.run_id > $((RUNS - 50));"
floor "run (its attempts and subtests)" \
  "SELECT count(*), sum(length(s.path)) FROM subtests s JOIN attempts a ON s.attempt_id = a.id JOIN tests t ON a.test_id = t.id WHERE t.run_id = $mid;"
floor "history matrix (a test's subtests, last 30 runs)" \
  "SELECT count(*) FROM subtests s JOIN attempts a ON s.attempt_id = a.id WHERE a.test_id IN (SELECT id FROM tests WHERE path = 'net/coll7:test_007.sh' ORDER BY run_id DESC LIMIT 30);"
# (The join written plainly makes SQLite scan all subtests; the attempts of
# the last runs have the highest ids, so their subtests are a range.)
floor "flakes (the summary of every test of the last 30 runs of each class)" \
  "SELECT count(*), sum(length(final_subtests)), sum(length(final_status)) FROM tests WHERE run_id > $((RUNS - 60));"
floor "flakes, before summaries (every subtest of those runs)" \
  "SELECT count(*), sum(length(path)), sum(length(status)) FROM subtests WHERE attempt_id >= (SELECT min(a.id) FROM attempts a JOIN tests t ON a.test_id = t.id WHERE t.run_id > $((RUNS - 60)));"
floor "crashes (every report)" \
  "SELECT count(*) FROM crashes c JOIN attempts a ON c.attempt_id = a.id JOIN tests t ON a.test_id = t.id;"
