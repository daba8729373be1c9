#!/usr/bin/env bash
# Crash safety: `vigil run` is killed with SIGKILL at random points; then
# `vigil run --resume last` runs only what is missing. Every test of the run
# ends up recorded exactly once, the resumed run's JSON reports all of them,
# and nothing a test started is left alive.
source "$(dirname "$0")/lib.sh"
FX="$VIGIL_SRC/tests/fixtures/resume"
n=$(grep -c . "$FX/kselftest-list.txt")

for round in 1 2 3; do
  db="$TMP/resume-$round.db"
  "$VIGIL" run --tests "$FX" --db "$db" --color never > "$TMP/first" 2>&1 &
  pid=$!
  # 0.5 s to 2.4 s: somewhere in the middle of the 8 x 0.4 s tests.
  sleep "$(( (RANDOM % 20) + 5 ))e-1"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  set +e
  "$VIGIL" run --resume last --db "$db" --color never --json "$TMP/resumed.json" > "$TMP/second" 2>&1
  rc=$?
  set -e
  expect_eq "round $round: resumed run passes" 0 "$rc"
  counts=$("$PY" - "$db" <<'PYEOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
runs = c.execute("select count(*) from runs").fetchone()[0]
rows = c.execute("select t.path, count(a.id) from tests t left join attempts a on a.test_id = t.id group by t.path").fetchall()
print(runs, len(rows), max(r[1] for r in rows), min(r[1] for r in rows))
PYEOF
)
  expect_eq "round $round: one run, $n tests, each exactly once" "1 $n 1 1" "$counts"
  expect_eq "round $round: JSON reports every test" "$n" "$(json_get "$TMP/resumed.json" "len(d['tests'])")"
  expect_eq "round $round: JSON run id" 1 "$(json_get "$TMP/resumed.json" "d['run_id']")"
  sleep 0.2
  left=$(pgrep -f "$FX/slow" || true)
  expect_eq "round $round: no test left running" "" "$left"
done
finish
