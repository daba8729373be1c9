#!/usr/bin/env bash
# `make demo`'s script runs cleanly and reads every log of kunit_tool's corpus.
source "$(dirname "$0")/lib.sh"
set +e
bash "$VIGIL_SRC/scripts/demo.sh" "$VIGIL" > "$TMP/demo" 2>&1
rc=$?
set -e
expect_eq "demo exit code" 0 "$rc"
grep -q -E "Traceback|Error:|command not found" "$TMP/demo" && fail "demo printed an error" || pass "demo without errors"
src=$(linux_src)
n=$(ls "$src"/tools/testing/kunit/test_data/*.log | wc -l)
got=$(grep -c -E '^test_[a-z_-]+\.log +(\[[A-Z_]+\]|No KTAP output found)' "$TMP/demo" || true)
expect_eq "one verdict per corpus log" "$n" "$got"
grep -q "selftests: net/mptcp: pm_netlink.sh" "$TMP/demo" && pass "MPTCP tree shown" || fail "no MPTCP tree"
finish
