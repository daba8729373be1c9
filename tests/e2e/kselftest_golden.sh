#!/usr/bin/env bash
# Golden tests on real kselftest runner output: the MPTCP selftests of
# linux-source-6.12 run through the kernel's run_kselftest.sh on a real host
# (captured by scripts/regen-golden.sh, which also regenerates these files).
# Every output format must match its golden file byte for byte, and the
# reading must be right on its own terms (checked below independently of the
# golden files, so a wrong golden can't pass).
source "$(dirname "$0")/lib.sh"
G="$VIGIL_SRC/tests/golden"

for name in mptcp_pm_netlink mptcp_join_timeout; do
  for fmt in json text junit ktap; do
    set +e
    "$VIGIL" parse --format "$fmt" --color never "$G/$name.log" > "$TMP/$name.$fmt"
    set -e
    if diff -u "$G/$name.$fmt" "$TMP/$name.$fmt" > "$TMP/diff"; then
      pass "$name.$fmt matches golden"
    else
      fail "$name.$fmt differs from golden:"; head -40 "$TMP/diff"
    fi
  done
done

# pm_netlink.sh: one runner test, its 22 KTAP subtests one level deeper.
j="$TMP/mptcp_pm_netlink.json"
expect_eq "pm_netlink status" "PASS" "$(json_get "$j" "d['status']")"
expect_eq "pm_netlink top-level tests" "1" "$(json_get "$j" "len(d['tests'])")"
expect_eq "pm_netlink name" "selftests: net/mptcp: pm_netlink.sh" "$(json_get "$j" "d['tests'][0]['name']")"
plan=$(grep -c '^# ok [0-9]* - pm_netlink' "$G/mptcp_pm_netlink.log")
expect_eq "pm_netlink subtests = runner's '# ok' lines" "$plan" "$(json_get "$j" "len(d['tests'][0]['subtests'])")"
expect_eq "pm_netlink subtests all PASS" "True" \
  "$(json_get "$j" "all(t['status']=='PASS' for t in d['tests'][0]['subtests'])")"
expect_eq "pm_netlink durations from time=Nms" "True" \
  "$(json_get "$j" "all(isinstance(t['duration_ms'], int) for t in d['tests'][0]['subtests'])")"
expect_eq "pm_netlink parse errors" "0" "$(json_get "$j" "d['counts']['errors']")"

# mptcp_join.sh cut by the runner's timeout: TIMEOUT, the subtests that
# reported are kept, the ones its plan promised but never came are CRASH.
j="$TMP/mptcp_join_timeout.json"
expect_eq "join timeout status" "TIMEOUT" "$(json_get "$j" "d['tests'][0]['status']")"
reported=$(grep -c '^# \(not \)\?ok [0-9]' "$G/mptcp_join_timeout.log" || true)
expect_eq "join reported subtests kept" "$reported" \
  "$(json_get "$j" "sum(1 for t in d['tests'][0]['subtests'] if not t.get('missing_result'))")"
set +e
"$VIGIL" parse "$G/mptcp_join_timeout.log" > /dev/null
rc=$?
set -e
expect_eq "join timeout exit code" "1" "$rc"
finish
