#!/usr/bin/env bash
# The main job, for now: read the real kselftest and KUnit output that ships
# with Debian's linux-source-6.12 (kunit_tool's test_data corpus) and the
# MPTCP selftests as the kselftest runner printed them on a real host
# (tests/golden), and print what vigil makes of each.
set -euo pipefail
cd "$(dirname "$0")/.."
VIGIL=${1:-build/vigil}
src=$(bash scripts/linux-source.sh build/linux-src)
data="$src/tools/testing/kunit/test_data"

show() {  # TITLE FILE
  echo
  echo "==== $1"
  echo "==== vigil parse $2"
  "$VIGIL" parse --no-logs "$2" || true
}

show "kselftest runner output, each test's own KTAP one level deeper (linux-source-6.12)" \
  "$data/test_is_test_passed-kselftest.log"
show "MPTCP pm_netlink.sh through run_kselftest.sh: 22 subtests with durations" \
  tests/golden/mptcp_pm_netlink.log
show "MPTCP mptcp_join.sh cut by the runner's timeout: TIMEOUT, unreported subtests CRASH" \
  tests/golden/mptcp_join_timeout.log
show "KUnit on a console with timestamps and kernel noise in the middle" \
  "$data/test_interrupted_tap_output.log"
show "KUnit interrupted by a kernel panic: the missing results are CRASH" \
  "$data/test_kernel_panic_interrupt.log"
show "KUnit nested suites, failures first in the summary" \
  "$data/test_is_test_passed-failure.log"
echo
echo "==== every log of kunit_tool's corpus, one line each"
for f in "$data"/*.log; do
  summary=$("$VIGIL" parse --quiet --color never "$f" 2>/dev/null | tail -n 1 || true)
  printf '%-48s %s\n' "$(basename "$f")" "$summary"
done
