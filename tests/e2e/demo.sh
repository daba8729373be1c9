#!/usr/bin/env bash
# `make demo`'s script: builds the MPTCP selftests of linux-source-6.12, runs
# (here, two of) them with vigil, writes every report, and reads every log of
# kunit_tool's corpus.
source "$(dirname "$0")/lib.sh"
set +e
VIGIL_DEMO_SELECT="-t net/mptcp:pm_netlink.sh -t net/mptcp:diag.sh" \
  bash "$VIGIL_SRC/scripts/demo.sh" "$VIGIL" > "$TMP/demo" 2>&1
rc=$?
set -e
tail -30 "$TMP/demo"
expect_eq "demo exit code" 0 "$rc"
grep -q -E "Traceback|Error:|command not found" "$TMP/demo" && fail "demo printed an error" || pass "demo without errors"
grep -q '^\[PASS\] net/mptcp:pm_netlink.sh' "$TMP/demo" && pass "pm_netlink.sh ran and passed" || fail "pm_netlink.sh"
grep -q 'vigil run exited 0' "$TMP/demo" && pass "run verdict" || fail "no run verdict"
grep -q "^Success: 2 test(s), no new failure" "$TMP/demo" && pass "vigil verdict after the run" || fail "no vigil verdict line"
out="$VIGIL_SRC/build/demo"
for f in vigil.db mptcp.json mptcp.junit.xml mptcp.ktap mptcp.md; do
  [ -s "$out/$f" ] && pass "$f written" || fail "$f missing"
done
expect_eq "JSON lists the two tests" 2 "$(json_get "$out/mptcp.json" "len(d['tests'])")"
src=$(linux_src)
n=$(ls "$src"/tools/testing/kunit/test_data/*.log | wc -l)
got=$(grep -c -E '^test_[a-z_-]+\.log +(\[[A-Z_]+\]|No KTAP output found)' "$TMP/demo" || true)
expect_eq "one verdict per corpus log" "$n" "$got"
finish
