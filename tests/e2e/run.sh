#!/usr/bin/env bash
# `vigil run` on the fixture kselftest tree (tests/fixtures/selftests): exit
# codes, timeouts, a SIGTERM-ignoring hang, a daemon left behind, 256 MiB of
# output, binary output, nested KTAP, a missing tool; the reports it writes;
# and no process started by a test alive afterwards.
source "$(dirname "$0")/lib.sh"
FX="$VIGIL_SRC/tests/fixtures/selftests"
export VIGIL_E2E_MARKER="$$-$RANDOM"
export VIGIL_E2E_BIG_MB=256

set +e
GITHUB_ACTIONS=true GITHUB_STEP_SUMMARY="$TMP/summary.md" \
/usr/bin/time -f '%M' -o "$TMP/rss" "$VIGIL" run --tests "$FX" -j 2 --color never \
  --db "$TMP/run.db" --json "$TMP/run.json" --junit "$TMP/run.xml" --ktap "$TMP/run.ktap" > "$TMP/out" 2>&1
rc=$?
set -e
cat "$TMP/out" | head -60
expect_eq "exit code with failures" 1 "$rc"

status() { json_get "$TMP/run.json" "[t['status'] for t in d['tests'] if t['path']=='$1'][0]"; }
expect_eq "pass" PASS "$(status basic:pass.sh)"
expect_eq "fail" FAIL "$(status basic:fail.sh)"
expect_eq "skip" SKIP "$(status basic:skip.sh)"
expect_eq "nested KTAP failing subtest" FAIL "$(status basic:ktap_fail.sh)"
expect_eq "binary output" PASS "$(status basic:binary.sh)"
expect_eq "big output" PASS "$(status basic:big_output.sh)"
expect_eq "timeout" TIMEOUT "$(status hang:timeout.sh)"
expect_eq "SIGTERM ignored" TIMEOUT "$(status hang:ignore_term.sh)"
expect_eq "daemon test itself" PASS "$(status hang:daemon.sh)"
expect_eq "subtests of the KTAP test" "PASS FAIL SKIP" \
  "$(json_get "$TMP/run.json" "' '.join(s['status'] for t in d['tests'] if t['path']=='basic:ktap_fail.sh' for s in t['subtests'])")"
expect_eq "big output counted" $((256 * 1048576 + 9)) \
  "$(json_get "$TMP/run.json" "[t['attempts'][0]['output_bytes'] for t in d['tests'] if t['path']=='basic:big_output.sh'][0]")"
expect_eq "missing tool reported" True \
  "$(json_get "$TMP/run.json" "any('vigil_no_such_tool' in e for t in d['tests'] for e in t['environment_issues'])")"
grep -q "^environment: basic:missing_tool.sh" "$TMP/out" && pass "environment line in summary" || fail "no environment line"
grep -q "rerun: vigil run --tests $FX --db $TMP/run.db -t basic:fail.sh$" "$TMP/out" && pass "rerun command" || fail "no rerun command"

rss_kb=$(tail -1 "$TMP/rss")
[ "$rss_kb" -lt $((96 * 1024)) ] && pass "RSS ${rss_kb} KiB with 256 MiB of test output" || fail "RSS ${rss_kb} KiB"

# GitHub: a job summary and one ::error annotation per failure.
grep -q '^### vigil run 1: FAIL' "$TMP/summary.md" && pass "job summary written" || fail "no job summary"
grep -q -- '- \*\*TIMEOUT\*\* `hang:timeout.sh`' "$TMP/summary.md" && pass "summary lists the timeout" || fail "summary lacks the timeout"
expect_eq "annotations" 4 "$(grep -c '^::error title=' "$TMP/out")"
grep -q '^::error title=basic%3Aktap_fail.sh::FAIL: \[FAIL\] second' "$TMP/out" && pass "annotation names the failing subtest" || fail "annotation lacks the subtest"

# Nothing the tests started is alive.
sleep 0.2
left=$(pgrep -f "vigil-e2e-daemon-$VIGIL_E2E_MARKER" || true)
expect_eq "daemon killed" "" "$left"
left=$(pgrep -f "sleep 1000" -P 1 || true)
expect_eq "no orphaned sleep" "" "$left"

# The runner log parses to the same verdicts; JUnit is well-formed.
set +e
"$VIGIL" parse --format json "$TMP/run.ktap" > "$TMP/reparse.json"
set -e
expect_eq "runner log re-parsed: timeouts" 2 "$(json_get "$TMP/reparse.json" "d['counts']['timed_out']")"
expect_eq "runner log re-parsed: failed leaves" 2 "$(json_get "$TMP/reparse.json" "d['counts']['failed']")"
"$PY" -c "import sys,xml.etree.ElementTree as E; r=E.parse(sys.argv[1]).getroot(); assert r.tag=='testsuites', r.tag" "$TMP/run.xml" \
  && pass "junit well-formed" || fail "junit not well-formed"

# Filters and usage errors.
set +e
"$VIGIL" run --db "$TMP/run.db" --tests "$FX" -t basic:pass.sh > "$TMP/one" 2>&1; rc1=$?
"$VIGIL" run --db "$TMP/run.db" --tests "$FX" -t basic:nope.sh > "$TMP/nope" 2>&1; rc2=$?
"$VIGIL" run --db "$TMP/run.db" --tests "$FX" -c basic --skip 'basic:*' > "$TMP/none" 2>&1; rc3=$?
set -e
expect_eq "single passing test" 0 "$rc1"
expect_eq "unknown test is a usage error" 2 "$rc2"
grep -q "no such test 'basic:nope.sh'" "$TMP/nope" && pass "unknown test explained" || fail "no explanation"
expect_eq "nothing selected" 2 "$rc3"
finish
