#!/usr/bin/env bash
# --retries: fail then pass is FLAKY (test and subtest), every attempt kept;
# a test that always fails stays FAIL. --repeat --until-fail stops at the
# first failing run.
source "$(dirname "$0")/lib.sh"
FX="$VIGIL_SRC/tests/fixtures/flaky"
export VIGIL_E2E_STATE="$TMP/flaky-state"

set +e
"$VIGIL" run --tests "$FX" --db "$TMP/r.db" --retries 2 --color never --json "$TMP/r.json" > "$TMP/out" 2>&1
rc=$?
set -e
cat "$TMP/out" | tail -12
expect_eq "exit: always_fails still fails the run" 1 "$rc"
st() { json_get "$TMP/r.json" "[t for t in d['tests'] if t['path']=='$1'][0]$2"; }
expect_eq "flaky test" FLAKY "$(st flaky:flaky.sh "['status']")"
expect_eq "flaky attempts kept" "FAIL PASS" "$(st flaky:flaky.sh "['attempts']" | "$PY" -c "import sys,ast; print(' '.join(a['status'] for a in ast.literal_eval(sys.stdin.read())))")"
expect_eq "flaky subtest verdict" "stable=PASS wobbly=FLAKY" \
  "$(json_get "$TMP/r.json" "' '.join(s['name']+'='+s['status'] for t in d['tests'] if t['path']=='flaky:flaky.sh' for s in t['subtests'])")"
expect_eq "always fails: 3 attempts" 3 "$(st flaky:always_fails.sh "['attempts'].__len__()")"
expect_eq "always fails: FAIL" FAIL "$(st flaky:always_fails.sh "['status']")"
expect_eq "passing test: 1 attempt" 1 "$(st flaky:passes.sh "['attempts'].__len__()")"
expect_eq "attempts in the store" 6 "$("$PY" -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from attempts').fetchone()[0])" "$TMP/r.db")"

# Only the flaky and passing tests, without retries: exit 0 for flaky? No
# retries means its first failure is a plain FAIL.
rm -f "$VIGIL_E2E_STATE"
set +e
"$VIGIL" run --tests "$FX" --db "$TMP/r2.db" -t flaky:flaky.sh --repeat 5 --until-fail --color never > "$TMP/rep" 2>&1
rc=$?
set -e
expect_eq "repeat until fail: exit 1" 1 "$rc"
expect_eq "stopped at the first failing repetition" 1 "$(grep -c '^stopped at repetition 1' "$TMP/rep")"
expect_eq "one run recorded" 1 "$("$PY" -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from runs').fetchone()[0])" "$TMP/r2.db")"
set +e
"$VIGIL" run --tests "$FX" --db "$TMP/r3.db" -t flaky:passes.sh --repeat 3 --color never > "$TMP/rep3" 2>&1
rc=$?
set -e
expect_eq "repeat 3 passing: exit 0" 0 "$rc"
expect_eq "three runs recorded" 3 "$("$PY" -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from runs').fetchone()[0])" "$TMP/r3.db")"
finish
